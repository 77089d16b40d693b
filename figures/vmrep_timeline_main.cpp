// vmrep-timeline: draws one failure scenario recorded by scripts/scenarios as
// the paper's Figs. 4-9 (a bar per node: its state over time, the faults and
// the recovery time after each). A reporting tool for the experiments, kept
// out of the operator's vmrepctl. No daemon needed.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "figures/timeline.hpp"

namespace {

// Whole or not at all: a figure under docs/ is never left half written.
void write_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vmrep-timeline: one failure scenario drawn as the paper's Figs. 4-9: every node's state over time, "
               "the faults injected and the recovery time after each, from the scenario runner's JSON file"};
  std::string file, svg_path;
  vmrep::figures::TimelineOptions options;
  bool text = false, json = false;
  int width = 100;
  app.add_option("file", file,
                 "scenario file: {scenario, service, t0, nodes: {NODE: [events as vmrepctl --json events prints "
                 "them]}, faults: [{time, label}]}; - reads stdin")
      ->required();
  app.add_option("--svg", svg_path, "write the SVG figure to this file (- for stdout)");
  app.add_flag("--text", text, "print the text chart (the default without --svg and --json)");
  app.add_option("--width", width, "columns of the text chart's bars")->capture_default_str()->check(CLI::Range(10, 1000));
  app.add_option("--until", options.until,
                 "end of the chart: seconds after t0 or an RFC 3339 time (default: the last event or fault plus 5%, "
                 "at least 1 s)");
  app.add_option("--service", options.service, "the service to chart (default: the file's \"service\")");
  app.add_flag("--json", json, "print the computed spans, faults and recovery times as JSON");
  app.footer(
      "States: B backup, C candidate (backup while electing), R restoring, S serving, X stopped, F failed, . down "
      "(before its first event, or killed by a 'kill NODE' fault until it logs 'started').\n"
      "Recovery after each kill/partition fault: time to the first node entering serving ('no outage' if a "
      "surviving node served throughout, 'not recovered' if none serves by the end).\n"
      "Example: vmrep-timeline primary-dies.json --svg docs/figures/primary-dies.svg --text");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return e.get_exit_code() == 0 ? 0 : (code == 0 ? 0 : 2);
  }
  try {
    const auto t = vmrep::figures::load_timeline(file, options);
    if (!svg_path.empty()) {
      const std::string svg = vmrep::figures::render_timeline_svg(t);
      if (svg_path == "-") std::cout << svg;
      else write_atomically(svg_path, svg);
    }
    if (json) std::cout << vmrep::figures::timeline_json(t).dump(2) << "\n";
    else if (text || svg_path.empty()) std::cout << vmrep::figures::render_timeline_text(t, width);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmrep-timeline: %s\n", e.what());
    return 1;
  }
  return 0;
}
