// polytrain-worker started by itself as a child: a load probe (worker/load_probe.h) or the
// process that carries a rank's gang traffic (worker/gang_child.h).
#ifndef POLYTRAIN_WORKER_CHILD_MODES_H_
#define POLYTRAIN_WORKER_CHILD_MODES_H_

namespace polytrain {

// Runs the child argv asks for and ends the process with its exit code (_exit: no static
// destructor of LibTorch's may crash and be taken for the child's doing); returns when argv asks
// for none.
void RunIfChild(int argc, char** argv);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_CHILD_MODES_H_
