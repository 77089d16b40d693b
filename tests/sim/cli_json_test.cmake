# vmrep-sim as an operator runs it: --json output fields, and a clear error
# with exit code 2 on a bad --faults.
execute_process(COMMAND ${SIM} --nodes 5 --seed 7 --ticks 600 --faults "crash:1@200" --json
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vmrep-sim exited ${rc}: ${out}")
endif()
string(JSON converged GET "${out}" converged)
string(JSON primary GET "${out}" primary)
string(JSON nviol LENGTH "${out}" violations)
string(JSON maxp GET "${out}" max_primaries)
string(JSON msgs GET "${out}" messages)
string(JSON ctick GET "${out}" converged_tick)
if(NOT converged STREQUAL "ON" OR primary EQUAL 1 OR NOT nviol EQUAL 0 OR NOT maxp EQUAL 1 OR msgs LESS 1 OR ctick LESS 200)
  message(FATAL_ERROR "unexpected report: ${out}")
endif()

execute_process(COMMAND ${SIM} --nodes 3 --faults "crash:4@1" OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 2 OR NOT err MATCHES "node id 4 is not in 1..3")
  message(FATAL_ERROR "bad --faults: exit ${rc}, stderr: ${err}")
endif()

execute_process(COMMAND ${SIM} --nodes 5 --seed 3 --ticks 400 --faults "partition:1,2|3,4,5@100-200"
                OUTPUT_VARIABLE text RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT text MATCHES ">> partition 1,2\\|3,4,5" OR NOT text MATCHES "== all live nodes agree")
  message(FATAL_ERROR "timeline: exit ${rc}\n${text}")
endif()
