# Fails when a source of a pure core (consensus/, replication/; their sim/
# folders hold the simulator's command-line tools and are not checked)
# includes or calls anything that reaches the outside world: sockets, clocks,
# threads, randomness, files, protobuf, libvirt, SSH, logging, or the
# modules that do I/O. Run: cmake -DROOT=<repo> -P purity_check.cmake
set(forbidden_includes
  "boost/" "asio" "<thread>" "<mutex>" "<atomic>" "<future>" "<condition_variable>" "<chrono>" "<ctime>"
  "<random>" "<fstream>" "<filesystem>" "<iostream>" "<cstdio>" "google/protobuf" ".pb.h" "libvirt" "libssh2"
  "sys/socket" "netinet/" "unistd.h" "spdlog" "\"agents/" "\"transport/" "\"controller/" "\"vmadapters/"
  "\"config/" "snapshots/store" "snapshots/chunk_store" "snapshots/fs_util")
set(forbidden_calls "std::rand(" " rand(" "random_device" "getenv(" "system_clock" "steady_clock" "fopen(")
set(bad "")
foreach(dir consensus replication)
  file(GLOB sources "${ROOT}/${dir}/*.hpp" "${ROOT}/${dir}/*.cpp")
  if(NOT sources)
    message(FATAL_ERROR "purity_check: no sources under ${ROOT}/${dir}")
  endif()
  foreach(f ${sources})
    file(STRINGS "${f}" lines)
    set(n 0)
    foreach(line IN LISTS lines)
      math(EXPR n "${n} + 1")
      if(line MATCHES "^[ \t]*#[ \t]*include")
        foreach(pattern ${forbidden_includes})
          string(FIND "${line}" "${pattern}" at)
          if(NOT at EQUAL -1)
            string(APPEND bad "${f}:${n}: includes ${pattern}: ${line}\n")
          endif()
        endforeach()
      elseif(NOT line MATCHES "^[ \t]*//")
        foreach(pattern ${forbidden_calls})
          string(FIND "${line}" "${pattern}" at)
          if(NOT at EQUAL -1)
            string(APPEND bad "${f}:${n}: uses ${pattern}: ${line}\n")
          endif()
        endforeach()
      endif()
    endforeach()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "purity_check: a pure core reaches the outside world:\n${bad}")
endif()
message(STATUS "purity_check: consensus/ and replication/ are pure")
