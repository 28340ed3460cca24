#include "worker/child_modes.h"

#include <unistd.h>

#include <string>

#include "worker/gang_child.h"
#include "worker/load_probe.h"
#include "worker/load_probe_child.h"

namespace polytrain {

void RunIfChild(int argc, char** argv) {
  if (argc < 2) return;
  const std::string mode = argv[1];
  // A load probe's child loads one file and ends.
  if (argc == 4 && mode == kLoadProbeFlag) {
    BecomeLoadProbeChild();
    _exit(RunLoadProbe(argv[2], argv[3]));
  }
  if (argc == 3 && mode == kLoadProbeFlag && std::string(argv[2]) == "-") {
    BecomeLoadProbeChild();
    const auto request = ReadLoadProbeRequest(STDIN_FILENO);
    _exit(request ? RunLoadProbe(request->second, request->first) : 0);
  }
  if (mode == kGangChildFlag) _exit(RunGangChild(argc, argv));
}

}  // namespace polytrain
