#include "worker/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iterator>
#include <mutex>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "api/limits.h"
#include "common/file_checksum.h"
#include "common/file_sync.h"
#include "common/status_macros.h"
#include "common/torch_file_check.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "worker/checkpoint_files.h"
#include "worker/load_probe.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

// Where LibTorch writes a checkpoint. Its own file writer ends the process when a write fails
// under it (the error is thrown from a destructor: probe CG, a full --checkpoint_dir killed the
// worker with every job on it), so it writes through this function, which takes every byte it
// is given and keeps the first failure, said once the archive is done.
class CheckpointFileWriter {
 public:
  explicit CheckpointFileWriter(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)),
        error_(fd_ < 0 ? errno : 0) {}
  ~CheckpointFileWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  CheckpointFileWriter(const CheckpointFileWriter&) = delete;
  CheckpointFileWriter& operator=(const CheckpointFileWriter&) = delete;

  size_t Write(const void* data, size_t size) {
    const char* next = static_cast<const char*>(data);
    for (size_t left = size; left > 0 && error_ == 0;) {
      const ssize_t written = ::write(fd_, next, left);
      if (written < 0) {
        if (errno != EINTR) error_ = errno;
        continue;
      }
      next += written;
      left -= static_cast<size_t>(written);
    }
    return size;
  }
  // Closes the file: 0, or the first errno of the open, a write or the close.
  int Close() {
    if (fd_ >= 0 && ::close(fd_) != 0 && error_ == 0) error_ = errno;
    fd_ = -1;
    return error_;
  }

 private:
  int fd_;
  int error_;
};

constexpr char kCudaRngKey[] = "cuda_rng";
constexpr char kSpecKey[] = "spec";
constexpr char kTrainRowsKey[] = "train_rows";
// The JobSpec fields that shape a run's training: a checkpoint continues only a run that agrees
// on all of them (its name, epochs, cadences and limits may change).
constexpr const char* kShapingFields[] = {"model",    "dataset",    "loss",      "optimizer",
                                          "schedule", "batch_size", "drop_last", "seed",
                                          "replicas", "precision"};

// `spec` with only the fields `keep` says to keep.
polytrain::v1::JobSpec OnlyFields(const polytrain::v1::JobSpec& spec,
                                  const std::function<bool(const std::string&)>& keep) {
  polytrain::v1::JobSpec part = spec;
  const google::protobuf::Descriptor* descriptor = part.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (!keep(field->name())) part.GetReflection()->ClearField(&part, field);
  }
  return part;
}

polytrain::v1::JobSpec ShapingPart(const polytrain::v1::JobSpec& spec) {
  return OnlyFields(spec, [](const std::string& name) {
    return std::find(std::begin(kShapingFields), std::end(kShapingFields), name) !=
           std::end(kShapingFields);
  });
}

// The first shaping field in which `saved` (a checkpoint's) and `current` differ; "" if none.
std::string FirstDifference(const polytrain::v1::JobSpec& saved,
                            const polytrain::v1::JobSpec& current) {
  for (const std::string name : kShapingFields) {
    auto just = [&name](const std::string& field) { return field == name; };
    if (!google::protobuf::util::MessageDifferencer::Equals(OnlyFields(saved, just),
                                                            OnlyFields(current, just))) {
      return name;
    }
  }
  return "";
}

// A generator's state as a CPU byte tensor (what get_state gives on every device type).
torch::Tensor GeneratorState(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetGeneratorState(at::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state.to(torch::kCPU));  // loaded onto the job's device with the rest
}

}  // namespace

absl::StatusOr<std::string> SaveCheckpoint(const std::string& dir, const TrainingState& state,
                                           const RunPosition& position, int keep_last,
                                           const std::string& also_kept) {
  if (absl::Status made = CreateDirectoriesDurably(dir); !made.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint dir ", made.message()));
  }
  std::error_code error;
  const std::string path = (fs::path(dir) / absl::StrFormat("%s%012d%s", kCheckpointPrefix,
                                                            position.step, kCheckpointSuffix))
                               .string();
  const std::string temp = path + ".tmp";
  try {
    torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
    state.model.Save(model_archive);
    state.optimizer.save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write(
        "position",
        torch::tensor({position.step, position.epoch, position.batch_in_epoch}, torch::kLong));
    archive.write("cpu_rng", GeneratorState(at::detail::getDefaultCPUGenerator()));
    if (state.spec != nullptr) {
      std::string text;
      google::protobuf::TextFormat::PrintToString(ShapingPart(*state.spec), &text);
      archive.write(kSpecKey, c10::IValue(text));
    }
    if (state.train_rows > 0) {
      archive.write(kTrainRowsKey, torch::tensor({state.train_rows}, torch::kLong));
    }
    if (state.device.is_cuda()) {
      archive.write(kCudaRngKey,
                    GeneratorState(at::globalContext().defaultGenerator(state.device)));
    }
    CheckpointFileWriter file(temp);
    archive.save_to([&file](const void* data, size_t size) { return file.Write(data, size); });
    if (const int failed = file.Close(); failed != 0) {
      fs::remove(temp, error);
      // A full disk is said as such: the job's record shows it, and it trains on where
      // checkpoints are best effort.
      return failed == ENOSPC || failed == EDQUOT
                 ? absl::ResourceExhaustedError(absl::StrCat("saving checkpoint ", path,
                                                             ": the disk of the checkpoint "
                                                             "directory is full (",
                                                             std::strerror(failed), ")"))
                 : absl::InternalError(
                       absl::StrCat("saving checkpoint ", path, ": ", std::strerror(failed)));
    }
  } catch (const c10::Error& e) {
    fs::remove(temp, error);
    return absl::InternalError(
        absl::StrCat("saving checkpoint ", path, ": ", e.what_without_backtrace()));
  }
  // Its size and CRC-32 first, then the file, on the disk whole before it has its name: a
  // checkpoint in place always has its record. A failure leaves no temporary file (a full disk
  // would otherwise fill with them, one per checkpoint that failed).
  absl::StatusOr<FileChecksum> checksum = ComputeFileChecksum(temp);
  absl::Status placed = checksum.status();
  if (placed.ok()) placed = SyncFile(temp);
  if (placed.ok()) placed = RecordCheckpointChecksum(path, *checksum);
  if (placed.ok()) {
    fs::rename(temp, path, error);
    if (error) placed = absl::InternalError(absl::StrCat("renaming: ", error.message()));
  }
  if (!placed.ok()) {
    fs::remove(temp, error);
    return absl::InternalError(absl::StrCat("saving checkpoint ", path, ": ", placed.message()));
  }
  SyncParentDirectory(path);

  PruneCheckpoints(dir, keep_last, also_kept);
  DeleteLeftoverCheckpointFiles(dir);  // of an earlier attempt killed while it saved
  return path;
}

absl::Status RecordCheckpointChecksum(const std::string& path, const FileChecksum& checksum) {
  return WriteChecksumRecord(path + kCheckpointRecordSuffix, checksum);
}

absl::StatusOr<RunPosition> LoadCheckpoint(const std::string& path, const TrainingState& state) {
  // A checkpoint comes from a worker: a hostile one's must not crash this one.
  if (absl::Status checked = CheckTorchFile(path, path, TorchFile::kTorchScript); !checked.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a checkpoint of this job's model: ",
                     absl::StripPrefix(checked.message(), absl::StrCat(path, ": "))));
  }
  POLYTRAIN_RETURN_IF_ERROR(ProbeLoad(path, ProbedFile::kTorchScript, path));
  try {
    torch::serialize::InputArchive archive, model_archive, optimizer_archive;
    archive.load_from(path, state.device);
    c10::IValue recorded;
    if (state.spec != nullptr && archive.try_read(kSpecKey, recorded) && recorded.isString()) {
      polytrain::v1::JobSpec saved;
      if (!google::protobuf::TextFormat::ParseFromString(recorded.toStringRef(), &saved)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": its recorded spec does not parse"));
      }
      const polytrain::v1::JobSpec current = ShapingPart(*state.spec);
      if (const std::string field = FirstDifference(saved, current); !field.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": a checkpoint of another run: its spec.", field,
            " differs from this one's (a run continues only with the model, dataset, loss, "
            "optimizer, schedule, batch_size, drop_last, seed, replicas and precision it was "
            "written with); give another --checkpoint_dir"));
      }
    }
    torch::Tensor train_rows;
    if (state.train_rows > 0 && archive.try_read(kTrainRowsKey, train_rows)) {
      const int64_t recorded_rows = train_rows.to(torch::kCPU)[0].item<int64_t>();
      if (recorded_rows != state.train_rows) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": a checkpoint of another run: it was written for ", recorded_rows,
            " training rows and this run's data has ", state.train_rows,
            " (the data changed under the same spec.dataset); give another --checkpoint_dir"));
      }
    }
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    state.model.Load(model_archive);
    state.optimizer.load(optimizer_archive);
    torch::Tensor position, rng, cuda_rng;
    archive.read("position", position);
    position = position.to(torch::kCPU);
    archive.read("cpu_rng", rng);
    SetGeneratorState(at::detail::getDefaultCPUGenerator(), rng);
    if (state.device.is_cuda() && archive.try_read(kCudaRngKey, cuda_rng)) {
      SetGeneratorState(at::globalContext().defaultGenerator(state.device), cuda_rng);
    }
    return RunPosition{position[0].item<int64_t>(), position[1].item<int64_t>(),
                       position[2].item<int64_t>()};
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a checkpoint of this job's model: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::optional<RunPosition>> RestoreNewestIntactCheckpoint(
    const std::string& dir, const TrainingState& state, std::vector<std::string>* passed_over) {
  std::vector<fs::path> all = ListCheckpoints(dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const std::string path = it->string();
    absl::StatusOr<FileChecksum> intact =
        VerifyAgainstRecord(path, path, path + kCheckpointRecordSuffix);
    if (!intact.ok()) {
      // Set aside (not deleted: someone may want to look at it), so it is not tried again.
      std::error_code error;
      fs::rename(path, path + ".corrupt", error);
      passed_over->push_back(std::string(intact.status().message()));
      continue;
    }
    absl::StatusOr<RunPosition> position = LoadCheckpoint(path, state);
    if (!position.ok()) return position.status();
    return std::optional<RunPosition>(*position);
  }
  return std::optional<RunPosition>();
}

}  // namespace polytrain
