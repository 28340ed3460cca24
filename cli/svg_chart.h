// Line charts as SVG: panels side by side, one polyline per series, a shared legend. Used by
// `polyctl compare --plot` (runs coloured by loss) and `polyctl loss curve --plot` (the L(pt)
// picture of the PolyLoss paper). PNG output converts the SVG with rsvg-convert.
#ifndef POLYTRAIN_CLI_SVG_CHART_H_
#define POLYTRAIN_CLI_SVG_CHART_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace polytrain {

struct ChartSeries {
  std::string label;  // the legend entry it belongs to
  std::string color;
  std::vector<double> x, y;
};

struct ChartPanel {
  std::string title, x_label, y_label;
  std::vector<ChartSeries> series;
};

// A colour per index, distinct for the first ten.
std::string PaletteColor(size_t index);

// The whole chart: panels in a row, each `panel_width` x `panel_height` pixels plus margins,
// then a legend of (label, color) entries. Non-finite points are skipped.
std::string RenderSvg(const std::vector<ChartPanel>& panels,
                      const std::vector<std::pair<std::string, std::string>>& legend,
                      int panel_width = 480, int panel_height = 320);

// Writes the chart to `path`: SVG as is, PNG through rsvg-convert. INVALID_ARGUMENT for another
// extension.
absl::Status WriteChart(const std::string& path, const std::string& svg);
// INVALID_ARGUMENT naming --plot unless `path` ends in .svg or .png and can be written there (its
// directory exists and is writable): checked before any work, so that a bad name does not come
// after the output it was meant to go with.
absl::Status CheckPlotPath(const std::string& path);

}  // namespace polytrain

#endif  // POLYTRAIN_CLI_SVG_CHART_H_
