// Scheduler, part: a worker connecting and going. Its hello re-attaches the ranks it kept
// running, tells it to stop attempts the coordinator gave up on, and ends the attempts it no
// longer claims; a stream that closes leaves its ranks to their leases; a shutdown closes every
// worker's stream and watch.
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/worker_threads.h"
#include "common/random_key.h"
#include "server/scheduler.h"
#include "spdlog/spdlog.h"

namespace polytrain {

absl::StatusOr<int64_t> Scheduler::ConnectWorker(const polytrain::v1::Hello& hello,
                                                 WorkerChannel* channel, const WorkerToken& token) {
  SweepNotifier notify(this);
  std::lock_guard<std::mutex> lock(mu_);
  const std::string& previous_key = hello.previous_session_key();
  if (!token.fingerprint.empty() && token_still_valid_ && !token_still_valid_(token)) {
    return absl::UnauthenticatedError(absl::StrCat("the worker token '", token.name,
                                                   "' was revoked (the coordinator's --tokens)"));
  }
  // A name bound to another token: its ranks waiting for their worker ran under that one.
  for (const auto& [job_id, running] : running_) {
    for (const Rank& rank : running.ranks) {
      if (rank.session == -1 && !rank.done && rank.worker == hello.name() &&
          !rank.token_name.empty() && rank.token_name != token.name) {
        // Which jobs is none of this caller's business: it holds another pool's token.
        return absl::PermissionDeniedError(absl::StrCat(
            "hello.name: worker ", hello.name(),
            " has jobs running under another worker token; until they end, only a worker with "
            "that token may use the name"));
      }
    }
  }
  for (auto& [session, worker] : workers_) {
    if (worker.hello.name() != hello.name()) continue;
    if (previous_key.empty() || worker.key != previous_key) {
      return absl::AlreadyExistsError(absl::StrCat(
          "hello.name: a worker named ", hello.name(),
          " is already connected (a worker back before its old stream was seen to close names "
          "that stream's key in hello.previous_session_key)"));
    }
    if (worker.token.name != token.name) {  // the same key, but not the same credentials
      return absl::PermissionDeniedError(absl::StrCat("hello.name: worker ", hello.name(),
                                                      " is connected under another worker token"));
    }
    // The same process on a new stream, before its old one was seen to close: the old one goes.
    worker.channel->Close(absl::UnavailableError(
        "this worker connected again on another stream, which replaces this one"));
    DetachSessionLocked(session);
    break;
  }
  const int64_t session = next_session_++;
  WorkerState& state = workers_[session];
  state.session = session;
  state.hello = hello;
  if (state.hello.slots() == 0) state.hello.set_slots(1);
  for (const std::string& device : hello.devices()) state.cuda = state.cuda || device == "cuda";
  state.threads_per_job = hello.threads() > 0 ? ThreadsPerJob(hello.threads(), state.hello.slots())
                                              : std::numeric_limits<int>::max();
  state.channel = channel;
  state.key = RandomHexKey(16);
  state.token = token;
  polytrain::v1::CoordinatorMessage welcome;
  welcome.mutable_welcome()->set_heartbeat_seconds(options_.heartbeat_seconds);
  welcome.mutable_welcome()->set_lease_seconds(options_.lease_seconds);
  welcome.mutable_welcome()->set_session_key(state.key);
  channel->Send(welcome);
  // Re-attach the ranks it kept running across a reconnect (a rank waiting for its gang's
  // rendezvous is told it again, a cancel sent while it was away is sent again).
  // Each claim once (a claim repeated in one hello must not read as one it cannot attribute).
  const std::set<std::string> claims(hello.running_job_ids().begin(),
                                     hello.running_job_ids().end());
  for (const std::string& job_id : claims) {
    auto it = running_.find(job_id);
    bool attached = false, wrong_key = false;
    for (size_t r = 0; it != running_.end() && r < it->second.ranks.size(); ++r) {
      Rank& rank = it->second.ranks[r];
      if (rank.session != -1 || rank.worker != hello.name()) continue;
      // Only the process that ran it may take it back (worker tokens may be shared).
      if (!rank.key.empty() && rank.key != previous_key) {
        wrong_key = true;
        continue;
      }
      rank.session = session;
      rank.key = state.key;
      rank.token_name = token.name;  // a restored rank is bound from here on
      rank.Renew(Clock::now() + Lease());
      rank.restored = false;  // it runs: not a rank that may have finished unseen
      state.running.insert(job_id);
      attached = true;
      if (it->second.cancel_requested || it->second.timed_out) {
        channel->Send(CancelMessage(job_id));
      }
      if (r > 0 && !it->second.rendezvous.empty()) {
        polytrain::v1::CoordinatorMessage rendezvous;
        rendezvous.mutable_rendezvous()->set_job_id(job_id);
        rendezvous.mutable_rendezvous()->set_attempt(it->second.attempt);
        rendezvous.mutable_rendezvous()->set_address(it->second.rendezvous);
        channel->Send(rendezvous);
      }
    }
    if (wrong_key && !attached) {
      spdlog::warn(
          "worker {} claimed {} without the key of the session that runs it: not re-attached, "
          "told to stop; the attempt waits for its worker or its lease",
          hello.name(), job_id);
    }
    if (!attached) {
      // An attempt the coordinator gave up on while the worker was away (its lease lapsed, the
      // job was requeued or ended): told to stop, so it does not run beside the newer attempt,
      // and its slot counts as busy until the worker stops claiming it.
      channel->Send(CancelMessage(job_id));
      state.stopping.insert(job_id);
    }
  }
  ForgetUnclaimedRanksLocked(hello);
  RefreshGaugesLocked();
  ScheduleLocked();
  return session;
}

void Scheduler::ForgetUnclaimedRanksLocked(const polytrain::v1::Hello& hello) {
  const std::set<std::string> claimed(hello.running_job_ids().begin(),
                                      hello.running_job_ids().end());
  // A worker claims every rank it runs and every result it has not had acknowledged, so a rank
  // of this worker that it does not claim is not running there: its process restarted, or the
  // assignment never reached it. The attempt is lost now, not one lease later. After a
  // coordinator restart a rank > 0 may instead have finished its part (that was not stored): it
  // counts as done, and its peers report the gang lost if it was not.
  std::vector<std::pair<std::string, size_t>> lost;
  for (auto& [job_id, job] : running_) {
    if (claimed.count(job_id) != 0) continue;
    for (size_t r = 0; r < job.ranks.size(); ++r) {
      Rank& rank = job.ranks[r];
      if (rank.done || rank.session != -1 || rank.worker != hello.name()) continue;
      if (r > 0 && rank.restored) {
        rank.done = true;
        continue;
      }
      lost.emplace_back(job_id, r);
      break;
    }
  }
  for (const auto& [job_id, rank] : lost) {
    const RunningJob& running = running_[job_id];
    if (running.cancel_requested) {
      (void)FinishJobLocked(job_id, polytrain::v1::JOB_STATE_CANCELLED,
                            "cancelled; its worker restarted", nullptr);
      continue;
    }
    const std::string of_rank =
        running.ranks.size() > 1 ? absl::StrCat("rank ", rank, " of the job") : "the job";
    (void)RequeueLocked(
        job_id,
        absl::StrCat("worker ", hello.name(), " came back without ", of_rank, " (attempt ",
                     running.attempt, "): it restarted or never received it"),
        /*retry_if_refused=*/true);
  }
}

void Scheduler::DisconnectWorker(int64_t session) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto worker = workers_.find(session); worker != workers_.end()) {
    // Ranks it was told to stop (their gang lost): the reason may have said "not seen gone".
    for (const std::string& job_id : worker->second.stopping) {
      NoteDisconnectedRankLocked(job_id, worker->second.hello.name());
    }
  }
  DetachSessionLocked(session);
  RefreshGaugesLocked();
}

void Scheduler::DetachSessionLocked(int64_t session) {
  auto it = workers_.find(session);
  if (it == workers_.end()) return;
  for (const std::string& job_id : it->second.running) {
    auto job = running_.find(job_id);
    if (job == running_.end()) continue;
    // Rank 0 reports the job's points: when its worker is gone, nothing is heard of the training
    // until it is back, so the throughput shows 0 (its next point sets it again), not the last
    // one while the lease runs out. Another rank's worker gone leaves rank 0's figures.
    const bool reporter_gone =
        !job->second.ranks.empty() && job->second.ranks[0].session == session;
    for (Rank& rank : job->second.ranks) {
      if (rank.session == session) rank.session = -1;
    }
    if (reporter_gone && options_.metrics != nullptr) options_.metrics->AttemptStopped(job_id);
  }
  workers_.erase(it);
}

int Scheduler::RevokeWorkerTokens(std::function<bool(const WorkerToken&)> still_valid) {
  std::lock_guard<std::mutex> lock(mu_);
  token_still_valid_ = std::move(still_valid);
  int closed = 0;
  for (auto& [session, worker] : workers_) {
    if (worker.token.fingerprint.empty() || token_still_valid_(worker.token)) continue;
    worker.channel->Close(absl::UnauthenticatedError(absl::StrCat(
        "the worker token '", worker.token.name, "' was revoked (the coordinator's --tokens)")));
    worker.draining = true;  // until its stream is seen to end: no more jobs
    ++closed;
  }
  return closed;
}

void Scheduler::CloseStreamsForShutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Status closing = absl::UnavailableError(
      "the coordinator is shutting down; the worker reconnects to the next one and keeps "
      "training meanwhile");
  for (auto& [session, worker] : workers_) worker.channel->Close(closing);
  watchers_.EndAll(/*shutting_down=*/true);
}

}  // namespace polytrain
