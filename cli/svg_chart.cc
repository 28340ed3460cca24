#include "cli/svg_chart.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/flag_file.h"

namespace polytrain {
namespace {

constexpr int kMarginLeft = 64, kMarginRight = 16, kMarginTop = 32, kMarginBottom = 48;

std::string Escape(const std::string& text) {
  return absl::StrReplaceAll(text,
                             {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// Round tick values covering [lo, hi].
std::vector<double> Ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

// Writes every byte of `data` to `fd`; false with errno set otherwise.
bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Runs `rsvg-convert -f png` with `svg` on its stdin and `png_fd` as its stdout.
absl::Status ConvertToPng(const std::string& svg, int png_fd) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  const pid_t child = fork();
  if (child < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (child == 0) {
    const int null = open("/dev/null", O_WRONLY);
    if (dup2(pipe_fds[0], STDIN_FILENO) < 0 || dup2(png_fd, STDOUT_FILENO) < 0 ||
        (null >= 0 && dup2(null, STDERR_FILENO) < 0)) {
      _exit(126);
    }
    char* const argv[] = {const_cast<char*>("rsvg-convert"), const_cast<char*>("-f"),
                          const_cast<char*>("png"), nullptr};
    execvp(argv[0], argv);
    _exit(127);
  }
  close(pipe_fds[0]);
  // A converter that exits early must not kill this process by SIGPIPE.
  struct sigaction ignore = {}, previous = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &previous);
  WriteAll(pipe_fds[1], svg);  // a short write shows in the converter's exit status
  close(pipe_fds[1]);
  sigaction(SIGPIPE, &previous, nullptr);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return absl::FailedPreconditionError("rsvg-convert not found (install package librsvg2-bin)");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError("rsvg-convert failed to convert the chart to PNG");
  }
  return absl::OkStatus();
}

}  // namespace

std::string PaletteColor(size_t index) {
  static const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[index % 10];
}

std::string RenderSvg(const std::vector<ChartPanel>& panels,
                      const std::vector<std::pair<std::string, std::string>>& legend,
                      int panel_width, int panel_height) {
  const int cell_width = kMarginLeft + panel_width + kMarginRight;
  const int legend_height = 20 * static_cast<int>(legend.size()) + 16;
  const int width = cell_width * static_cast<int>(std::max<size_t>(panels.size(), 1));
  const int height = kMarginTop + panel_height + kMarginBottom + legend_height;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      width, height, width, height);
  for (size_t p = 0; p < panels.size(); ++p) {
    const ChartPanel& panel = panels[p];
    double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
    for (const ChartSeries& s : panel.series) {
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        x_lo = std::min(x_lo, s.x[i]);
        x_hi = std::max(x_hi, s.x[i]);
        y_lo = std::min(y_lo, s.y[i]);
        y_hi = std::max(y_hi, s.y[i]);
      }
    }
    if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
    if (x_hi == x_lo) x_hi = x_lo + 1;
    if (y_hi == y_lo) y_hi = y_lo + 1;
    const double y_pad = 0.05 * (y_hi - y_lo);
    y_lo -= y_pad;
    y_hi += y_pad;
    const int left = static_cast<int>(p) * cell_width + kMarginLeft;
    auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * panel_width; };
    auto py = [&](double y) { return kMarginTop + (y_hi - y) / (y_hi - y_lo) * panel_height; };

    absl::StrAppendFormat(&svg,
                          "<g class=\"panel\">\n<text x=\"%d\" y=\"%d\" font-size=\"14\" "
                          "font-weight=\"bold\">%s</text>\n",
                          left, kMarginTop - 12, Escape(panel.title));
    absl::StrAppendFormat(&svg,
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                          "stroke=\"#444\"/>\n",
                          left, kMarginTop, panel_width, panel_height);
    for (double t : Ticks(x_lo, x_hi)) {
      absl::StrAppendFormat(&svg,
                            "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                            px(t), kMarginTop, px(t), kMarginTop + panel_height, px(t),
                            kMarginTop + panel_height + 16, t);
    }
    for (double t : Ticks(y_lo, y_hi)) {
      absl::StrAppendFormat(&svg,
                            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                            left, py(t), left + panel_width, py(t), left - 6, py(t) + 4, t);
    }
    absl::StrAppendFormat(&svg,
                          "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n"
                          "<text transform=\"translate(%d,%.1f) rotate(-90)\" "
                          "text-anchor=\"middle\">%s</text>\n",
                          left + panel_width / 2.0, kMarginTop + panel_height + 36,
                          Escape(panel.x_label), left - 48, kMarginTop + panel_height / 2.0,
                          Escape(panel.y_label));
    for (const ChartSeries& s : panel.series) {
      std::string points;
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        absl::StrAppendFormat(&points, "%.2f,%.2f ", px(s.x[i]), py(s.y[i]));
      }
      absl::StrAppendFormat(&svg,
                            "<polyline class=\"curve\" data-label=\"%s\" fill=\"none\" "
                            "stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>\n",
                            Escape(s.label), s.color, points);
    }
    svg += "</g>\n";
  }
  int y = kMarginTop + panel_height + kMarginBottom + 8;
  for (const auto& [label, color] : legend) {
    absl::StrAppendFormat(
        &svg,
        "<g class=\"legend\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
        "stroke=\"%s\" stroke-width=\"3\"/><text x=\"%d\" y=\"%d\">%s</text></g>\n",
        kMarginLeft, y, kMarginLeft + 24, y, color, kMarginLeft + 32, y + 4, Escape(label));
    y += 20;
  }
  svg += "</svg>\n";
  return svg;
}

absl::Status CheckPlotPath(const std::string& path) {
  if (!absl::EndsWith(path, ".png") && !absl::EndsWith(path, ".svg")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--plot ", path, ": the file must end in .svg or .png"));
  }
  // Before any output: a table printed and then "cannot write" left a half-done command.
  return CheckFlagFileWritable("--plot", path);
}

absl::Status WriteChart(const std::string& path, const std::string& svg) {
  if (absl::Status s = CheckPlotPath(path); !s.ok()) return s;
  const bool png = absl::EndsWith(path, ".png");
  const int out = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--plot ", path, ": cannot write: ", std::strerror(errno)));
  }
  if (!png) {
    const bool written = WriteAll(out, svg);
    const int error = errno;
    if (close(out) != 0 || !written) {
      std::remove(path.c_str());
      return absl::InvalidArgumentError(
          absl::StrCat("--plot ", path, ": cannot write: ", std::strerror(error)));
    }
    return absl::OkStatus();
  }
  // rsvg-convert reads the SVG from a pipe and writes the PNG to the file: run without a shell,
  // so the file's name is never a command.
  absl::Status converted = ConvertToPng(svg, out);
  close(out);
  if (!converted.ok()) {
    std::remove(path.c_str());
    return absl::InternalError(absl::StrCat("--plot ", path, ": ", converted.message()));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
