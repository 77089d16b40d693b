// The renderings of a Timeline: an SVG figure, a text chart, JSON.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "figures/timeline.hpp"

namespace vmrep::figures {

using nlohmann::json;

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') out += "\xEF\xBF\xBD";
        else out += c;
    }
  }
  return out;
}

namespace {

struct Colour {
  const char* fill;
  const char* text;
};

Colour colour(NodeState s) {
  switch (s) {
    case NodeState::down: return {"#eeeeee", "#777777"};
    case NodeState::backup: return {"#a6cee3", "#08306b"};
    case NodeState::candidate: return {"#fdbf6f", "#5a3000"};
    case NodeState::restoring: return {"#ffe45c", "#4d4000"};
    case NodeState::serving: return {"#2e8b3a", "#ffffff"};
    case NodeState::stopped: return {"#8c8c8c", "#ffffff"};
    case NodeState::failed: return {"#d7301f", "#ffffff"};
  }
  return {"#ffffff", "#000000"};
}

// Code points, for text width estimates.
std::size_t glyphs(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

constexpr double kCharWidth = 6.4;  // an 11 px sans-serif glyph, generously
double text_width(const std::string& s) { return static_cast<double>(glyphs(s)) * kCharWidth; }

std::string px(double v) { return fixed(v, 1); }

// Seconds between axis ticks: about `want` ticks at most.
double tick_step(double span, double want) {
  static constexpr double kSteps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200};
  for (double s : kSteps)
    if (span / s <= want) return s;
  return std::ceil(span / want / 3600) * 3600;
}

std::string tick_label(double v, double step) { return fixed(v, step < 1 ? 1 : 0); }

// Greedy rows for labels that must not overlap: the first level whose
// rightmost label ends before `left`.
int place(std::vector<double>& levels, double left, double right) {
  for (std::size_t l = 0; l < levels.size(); ++l)
    if (levels[l] + 8 <= left) {
      levels[l] = right;
      return static_cast<int>(l);
    }
  levels.push_back(right);
  return static_cast<int>(levels.size()) - 1;
}

std::string seconds(double v) { return fixed(v, 3) + " s"; }

}  // namespace

std::string render_timeline_svg(const Timeline& t) {
  const double W = 960, left = 96, right = 24, plot = W - left - right;
  const double span = t.end > t.start ? t.end - t.start : 1;
  auto X = [&](double s) { return left + (std::clamp(s, t.start, t.end) - t.start) / span * plot; };
  auto visible = [&](double s) { return s >= t.start && s <= t.end; };
  const double row_h = 24, row_gap = 6, label_h = 15, rec_h = 17;

  // Fault labels above the rows, on as many levels as they need.
  struct Placed {
    double x;
    bool anchor_end;
    int level;
  };
  std::vector<double> levels;
  std::vector<std::optional<Placed>> fault_pos(t.faults.size());
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    const Fault& f = t.faults[i];
    if (!visible(f.time)) continue;
    const double x = X(f.time), w = text_width(f.label) + 6;
    const bool end = x + 4 + w > W - 4;
    fault_pos[i] = Placed{x, end, place(levels, end ? x - 4 - w : x, end ? x : x + 4 + w)};
  }
  const int fault_levels = static_cast<int>(levels.size());

  // Recovery annotations below the rows.
  struct RecPlaced {
    const Recovery* r;
    double x0, x1;
    bool anchor_end;
    int level;
  };
  std::vector<double> rec_levels;
  std::vector<RecPlaced> recs;
  for (const auto& r : t.recoveries) {
    const Fault& f = t.faults[r.fault];
    if (!visible(f.time)) continue;
    const double x0 = X(f.time);
    const double x1 = r.at ? X(*r.at) : x0;
    const double w = text_width(r.label()) + 6;
    const bool end = x1 + 4 + w > W - 4;
    const double lo = end ? std::min(x0, x1 - 4 - w) : x0, hi = end ? x1 : x1 + 4 + w;
    recs.push_back({&r, x0, x1, end, place(rec_levels, lo, hi)});
  }

  const double title_y = 22, fault_top = 34;
  const double rows_top = fault_top + fault_levels * label_h + (fault_levels ? 6 : 0);
  const double rows_bottom =
      rows_top + static_cast<double>(t.nodes.size()) * (row_h + row_gap) - (t.nodes.empty() ? 0 : row_gap);
  const double rec_top = rows_bottom + 6;
  const double axis_y = rec_top + static_cast<double>(rec_levels.size()) * rec_h + 4;
  const double legend_y = axis_y + 46;
  const double H = legend_y + 22;

  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << px(W) << "\" height=\"" << px(H)
    << "\" viewBox=\"0 0 " << px(W) << " " << px(H)
    << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"11\">\n";
  const std::string title =
      (t.scenario.empty() ? std::string() : t.scenario + ": ") + "service " + t.service + ", node states over time";
  o << "<title>" << xml_escape(title) << "</title>\n";
  o << "<rect x=\"0\" y=\"0\" width=\"" << px(W) << "\" height=\"" << px(H) << "\" fill=\"#ffffff\"/>\n";
  o << "<text x=\"" << px(left) << "\" y=\"" << px(title_y) << "\" font-size=\"14\" font-weight=\"bold\">"
    << xml_escape(title) << "</text>\n";

  // Rows: the node's name, then its spans.
  o << "<g id=\"nodes\">\n";
  for (std::size_t i = 0; i < t.nodes.size(); ++i) {
    const NodeRow& row = t.nodes[i];
    const double y = rows_top + static_cast<double>(i) * (row_h + row_gap);
    o << "<g class=\"node\" id=\"node-" << i << "\">\n";
    o << "<text x=\"" << px(left - 8) << "\" y=\"" << px(y + row_h / 2 + 4)
      << "\" text-anchor=\"end\" font-weight=\"bold\">" << xml_escape(row.name) << "</text>\n";
    for (const auto& s : row.spans) {
      const double x0 = X(s.start), x1 = X(s.end), w = x1 - x0;
      const Colour c = colour(s.state);
      o << "<rect x=\"" << px(x0) << "\" y=\"" << px(y) << "\" width=\"" << px(w) << "\" height=\"" << px(row_h)
        << "\" fill=\"" << c.fill << "\"><title>"
        << xml_escape(row.name + ": " + state_name(s.state) + " from " + seconds(s.start) + " to " + seconds(s.end) +
                      (s.detail.empty() ? "" : " (" + s.detail + ")"))
        << "</title></rect>\n";
      // The state's name, or its letter where the name does not fit, in the
      // widest stretch between fault lines so no dashed line runs through it.
      std::string name = state_name(s.state);
      if (w < text_width(name) + 6 && s.state != NodeState::down) name = std::string(1, state_letter(s.state));
      std::vector<double> cuts{x0, x1};
      for (const auto& f : t.faults)
        if (visible(f.time) && X(f.time) > x0 && X(f.time) < x1) cuts.push_back(X(f.time));
      std::sort(cuts.begin(), cuts.end());
      double a = x0, b = x0;
      for (std::size_t k = 1; k < cuts.size(); ++k)
        if (cuts[k] - cuts[k - 1] > b - a) a = cuts[k - 1], b = cuts[k];
      if (b - a < text_width(name) + 6) a = x0, b = x1;
      if (w >= text_width(name) + 4)
        o << "<text x=\"" << px((a + b) / 2) << "\" y=\"" << px(y + row_h / 2 + 4)
          << "\" text-anchor=\"middle\" fill=\"" << c.text << "\">" << xml_escape(name) << "</text>\n";
    }
    o << "<rect x=\"" << px(left) << "\" y=\"" << px(y) << "\" width=\"" << px(plot) << "\" height=\"" << px(row_h)
      << "\" fill=\"none\" stroke=\"#666666\" stroke-width=\"0.5\"/>\n";
    o << "</g>\n";
  }
  o << "</g>\n";

  // Faults: a dashed line through every row, its label above.
  o << "<g id=\"faults\">\n";
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    if (!fault_pos[i]) continue;
    const Placed& p = *fault_pos[i];
    const double ly = fault_top + (p.level + 1) * label_h - 4;
    const double w = text_width(t.faults[i].label) + 6;
    o << "<g class=\"fault\">\n";
    o << "<line x1=\"" << px(p.x) << "\" y1=\"" << px(ly - 10) << "\" x2=\"" << px(p.x) << "\" y2=\"" << px(axis_y)
      << "\" stroke=\"#222222\" stroke-width=\"1.2\" stroke-dasharray=\"5,3\"/>\n";
    o << "<rect x=\"" << px(p.anchor_end ? p.x - 2 - w : p.x + 2) << "\" y=\"" << px(ly - 11) << "\" width=\""
      << px(w) << "\" height=\"14\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>\n";
    o << "<text x=\"" << px(p.anchor_end ? p.x - 4 : p.x + 4) << "\" y=\"" << px(ly) << "\""
      << (p.anchor_end ? " text-anchor=\"end\"" : "") << " font-weight=\"bold\">" << xml_escape(t.faults[i].label)
      << "<title>" << xml_escape(t.faults[i].label + " at " + seconds(t.faults[i].time) + " (" + t.faults[i].at + ")")
      << "</title></text>\n";
    o << "</g>\n";
  }
  o << "</g>\n";

  // Recovery: from the fault to the first entry into serving, labelled.
  o << "<g id=\"recoveries\">\n";
  for (const auto& rp : recs) {
    const Recovery& r = *rp.r;
    const double y = rec_top + (rp.level + 1) * rec_h - 5;
    const char* ink = r.outcome == Recovery::Outcome::recovered   ? "#1b5e20"
                      : r.outcome == Recovery::Outcome::no_outage ? "#444444"
                                                                  : "#b2182b";
    o << "<g class=\"recovery\">\n";
    if (r.outcome == Recovery::Outcome::recovered) {
      o << "<line x1=\"" << px(rp.x0) << "\" y1=\"" << px(y - 4) << "\" x2=\"" << px(rp.x1) << "\" y2=\"" << px(y - 4)
        << "\" stroke=\"" << ink << "\" stroke-width=\"1.5\"/>\n";
      o << "<line x1=\"" << px(rp.x1) << "\" y1=\"" << px(y - 8) << "\" x2=\"" << px(rp.x1) << "\" y2=\"" << px(y)
        << "\" stroke=\"" << ink << "\" stroke-width=\"1.5\"/>\n";
    }
    o << "<text x=\"" << px(rp.anchor_end ? rp.x1 - 4 : rp.x1 + 4) << "\" y=\"" << px(y) << "\""
      << (rp.anchor_end ? " text-anchor=\"end\"" : "") << " fill=\"" << ink << "\" font-weight=\"bold\">"
      << xml_escape(r.label()) << "<title>"
      << xml_escape(t.faults[r.fault].label + ": " + r.label() +
                    (r.at ? ", " + r.node + " serving at " + seconds(*r.at) : std::string()))
      << "</title></text>\n";
    o << "</g>\n";
  }
  o << "</g>\n";

  // Axis in seconds from t0.
  o << "<g id=\"axis\">\n";
  o << "<line x1=\"" << px(left) << "\" y1=\"" << px(axis_y) << "\" x2=\"" << px(left + plot) << "\" y2=\""
    << px(axis_y) << "\" stroke=\"#000000\"/>\n";
  const double step = tick_step(span, 12);
  for (auto k = static_cast<long long>(std::ceil(t.start / step - 1e-9));; ++k) {
    const double v = static_cast<double>(k) * step;
    if (v > t.end + 1e-9) break;
    const double x = X(v);
    o << "<line x1=\"" << px(x) << "\" y1=\"" << px(axis_y) << "\" x2=\"" << px(x) << "\" y2=\"" << px(axis_y + 5)
      << "\" stroke=\"#000000\"/>\n";
    o << "<text x=\"" << px(x) << "\" y=\"" << px(axis_y + 17) << "\" text-anchor=\"middle\">" << tick_label(v, step)
      << "</text>\n";
  }
  o << "<text x=\"" << px(left + plot) << "\" y=\"" << px(axis_y + 32) << "\" text-anchor=\"end\" fill=\"#444444\">"
    << xml_escape("seconds from t0 = " + t.t0) << "</text>\n";
  o << "</g>\n";

  // Legend: every state's colour and name, and the fault line.
  o << "<g id=\"legend\">\n";
  double lx = left;
  for (NodeState s : kAllStates) {
    const Colour c = colour(s);
    o << "<rect x=\"" << px(lx) << "\" y=\"" << px(legend_y - 10) << "\" width=\"12\" height=\"12\" fill=\"" << c.fill
      << "\" stroke=\"#666666\" stroke-width=\"0.5\"/>\n";
    o << "<text x=\"" << px(lx + 6) << "\" y=\"" << px(legend_y - 1)
      << "\" text-anchor=\"middle\" font-size=\"9\" fill=\"" << c.text << "\">" << state_letter(s) << "</text>\n";
    o << "<text x=\"" << px(lx + 16) << "\" y=\"" << px(legend_y) << "\">" << state_name(s) << "</text>\n";
    lx += 16 + text_width(state_name(s)) + 14;
  }
  o << "<line x1=\"" << px(lx + 6) << "\" y1=\"" << px(legend_y - 12) << "\" x2=\"" << px(lx + 6) << "\" y2=\""
    << px(legend_y + 2) << "\" stroke=\"#222222\" stroke-width=\"1.2\" stroke-dasharray=\"5,3\"/>\n";
  o << "<text x=\"" << px(lx + 12) << "\" y=\"" << px(legend_y) << "\">fault injected</text>\n";
  o << "</g>\n";
  o << "</svg>\n";
  return o.str();
}

std::string render_timeline_text(const Timeline& t, int width) {
  width = std::max(width, 10);
  const double span = t.end > t.start ? t.end - t.start : 1;
  const double col = span / width;
  std::size_t name_w = 6;  // "faults"
  for (const auto& row : t.nodes) name_w = std::max(name_w, row.name.size());
  const std::string pad(name_w + 3, ' ');  // name, two spaces, '|'
  auto column = [&](double s) {
    return std::clamp(static_cast<int>(std::floor((s - t.start) / col + 1e-9)), 0, width - 1);
  };

  std::ostringstream o;
  o << (t.scenario.empty() ? std::string() : t.scenario + ": ") << "service " << t.service << ", t0 " << t.t0 << ", "
    << fixed(t.start, 1) << " to " << fixed(t.end, 1) << " s, " << fixed(col, 3) << " s per column\n";

  // Axis: tick labels in seconds at their columns, far enough apart to read.
  std::string axis(static_cast<std::size_t>(width), ' ');
  {
    static constexpr double kSteps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600};
    double step = kSteps[std::size(kSteps) - 1];
    for (double s : kSteps)
      if (s / col >= 7) {
        step = s;
        break;
      }
    int free_from = 0;
    for (auto k = static_cast<long long>(std::ceil(t.start / step - 1e-9));; ++k) {
      const double v = static_cast<double>(k) * step;
      if (v > t.end + 1e-9) break;
      const std::string label = tick_label(v, step) + "s";
      const int c = column(v);
      if (c < free_from || c + static_cast<int>(label.size()) > width) continue;
      axis.replace(static_cast<std::size_t>(c), label.size(), label);
      free_from = c + static_cast<int>(label.size()) + 1;
    }
  }
  o << pad << axis << "\n";

  for (const auto& row : t.nodes) {
    std::string bar(static_cast<std::size_t>(width), state_letter(NodeState::down));
    std::size_t k = 0;
    for (int i = 0; i < width; ++i) {
      const double mid = t.start + (i + 0.5) * col;
      while (k < row.spans.size() && row.spans[k].end <= mid) ++k;
      if (k < row.spans.size() && row.spans[k].start <= mid)
        bar[static_cast<std::size_t>(i)] = state_letter(row.spans[k].state);
    }
    o << row.name << std::string(name_w - row.name.size() + 2, ' ') << "|" << bar << "|\n";
  }

  // The fault marks: each fault's number under its column.
  auto mark = [](std::size_t i) {
    return i < 9 ? static_cast<char>('1' + i) : i < 35 ? static_cast<char>('a' + (i - 9)) : '+';
  };
  std::string marks(static_cast<std::size_t>(width), ' ');
  bool any = false;
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    if (t.faults[i].time < t.start || t.faults[i].time > t.end) continue;
    auto& m = marks[static_cast<std::size_t>(column(t.faults[i].time))];
    m = m == ' ' ? mark(i) : '*';
    any = true;
  }
  if (any) {
    while (!marks.empty() && marks.back() == ' ') marks.pop_back();
    o << "faults" << std::string(name_w - 6 + 2, ' ') << " " << marks << "\n";
  }

  o << "\n";
  std::string legend;
  for (NodeState s : kAllStates)
    legend += std::string(legend.empty() ? "" : "  ") + state_letter(s) + " " + state_name(s);
  o << legend << "\n";

  if (t.faults.empty()) {
    o << "faults: none\n";
    return o.str();
  }
  o << "faults:\n";
  std::size_t at_w = 0, label_w = 0;
  for (const auto& f : t.faults) {
    at_w = std::max(at_w, seconds(f.time).size());
    label_w = std::max(label_w, f.label.size());
  }
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    const Fault& f = t.faults[i];
    std::string line = std::string("  ") + mark(i) + "  at " + seconds(f.time) +
                       std::string(at_w - seconds(f.time).size() + 2, ' ') + f.label;
    for (const auto& r : t.recoveries) {
      if (r.fault != i) continue;
      line += std::string(label_w - f.label.size() + 2, ' ') + r.label();
      if (r.at) line += " (" + r.node + " serving at " + seconds(*r.at) + ")";
    }
    o << line << "\n";
  }
  return o.str();
}

json timeline_json(const Timeline& t) {
  json nodes = json::array();
  for (const auto& row : t.nodes) {
    json spans = json::array();
    for (const auto& s : row.spans)
      spans.push_back({{"state", state_name(s.state)}, {"start", s.start}, {"end", s.end}, {"detail", s.detail}});
    nodes.push_back({{"name", row.name}, {"spans", spans}});
  }
  json faults = json::array();
  for (const auto& f : t.faults)
    faults.push_back({{"time", f.time}, {"at", f.at}, {"label", f.label}, {"kind", f.kind}, {"nodes", f.nodes}});
  json recoveries = json::array();
  for (const auto& r : t.recoveries) {
    const char* outcome = r.outcome == Recovery::Outcome::recovered   ? "recovered"
                          : r.outcome == Recovery::Outcome::no_outage ? "no_outage"
                                                                      : "not_recovered";
    json j{{"fault", r.fault},
           {"label", t.faults[r.fault].label},
           {"outcome", outcome},
           {"text", r.label()},
           {"seconds", r.seconds ? json(*r.seconds) : json(nullptr)},
           {"at", r.at ? json(*r.at) : json(nullptr)},
           {"node", r.node.empty() ? json(nullptr) : json(r.node)}};
    recoveries.push_back(std::move(j));
  }
  return {{"scenario", t.scenario}, {"service", t.service}, {"t0", t.t0},           {"start", t.start},
          {"end", t.end},           {"nodes", nodes},         {"faults", faults}, {"recoveries", recoveries}};
}

}  // namespace vmrep::figures
