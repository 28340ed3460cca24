// The coordinator's scheduling core: the queue of waiting jobs, the workers connected and their
// free slots, the leases of running jobs, and the watchers of each job. It decides which job
// runs where (priority, then FIFO; a CUDA job only on a GPU worker; a worker's slots), moves
// jobs between states in the JobStore, and requeues a job whose lease lapses (its worker went
// silent) as a new attempt, up to the spec's max_attempts.
//
// Data-parallel jobs (spec.replicas = R > 1) are gangs: they start only when R workers with a
// free slot of the right device are there at once, one rank on each (never two ranks of a job on
// one worker), and they hold nothing while they wait, so gangs that each half-fit never
// deadlock. Jobs behind a waiting gang may pass it (backfill) until it has waited
// Options::gang_backfill_seconds; from then on nothing behind it in queue order starts until it
// has its R slots, which running jobs free as they end, so it cannot starve (a GPU gang holds
// back only what could take a GPU worker's slot). A gang larger than the workers connected that
// could run it waits without holding anyone back. Rank 0 reports its
// rendezvous and the scheduler passes it to the other ranks. A rank that fails, whose lease
// lapses, or that reports its gang lost ends the attempt of every rank: the others are told to
// stop and the job is requeued as one new attempt (or fails, with no attempts left, or when the
// failure was the job's own, e.g. a diverged loss). A worker told to stop a job keeps that slot
// until it confirms (its report of the old attempt, or a heartbeat without the job), and the
// job's next attempt never goes to a worker still stopping it.
//
// An attempt past spec.time_limit_seconds is told to stop and ends FAILED, never requeued.
// Every transition is stored before memory changes; a write the store refuses leaves both as
// they were, and the lease loop tries again after a pause.
//
// Requests reach it checked (api/): the Coordinator service through ClientApi, workers through
// WorkerProtocol. Reads that need no scheduling state (GetJob, ListJobs, GetMetrics,
// CompareJobs) go to the store through JobQueries without taking this lock.
#ifndef POLYTRAIN_SERVER_SCHEDULER_H_
#define POLYTRAIN_SERVER_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "api/limits.h"
#include "polytrain/v1/worker.pb.h"
#include "server/caller.h"
#include "server/coordinator_metrics.h"
#include "server/job_queue.h"
#include "server/job_store.h"
#include "server/job_watchers.h"

namespace polytrain {

// How the scheduler sends to one connected worker. Send must not block or call back.
class WorkerChannel {
 public:
  virtual ~WorkerChannel() = default;
  virtual void Send(const polytrain::v1::CoordinatorMessage& message) = 0;
  // Ends the worker's stream with `status` (the coordinator is shutting down, or the same
  // worker connected again on a new stream); the worker reconnects, to this coordinator or its
  // successor, and keeps training meanwhile.
  virtual void Close(const absl::Status& /*status*/) {}
};

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // A running job's lease lapses this long after its last heartbeat.
    double lease_seconds = 30.0;
    // What workers are told to use; a third of the lease leaves room for two lost beats.
    double heartbeat_seconds = 10.0;
    // Run the lease timer thread (tests drive ExpireLeases themselves).
    bool lease_thread = true;
    // Where the coordinator's Prometheus series go; may be null.
    CoordinatorMetrics* metrics = nullptr;
    // How long jobs behind a waiting gang may start before it (see above); 0: never.
    double gang_backfill_seconds = 30.0;
    // The lease of a running job restored from the store starts at Serving(), not at Create():
    // a start-up that takes long (a large store) must not lose them before workers can reach
    // the coordinator to re-attach them.
    bool restored_leases_wait_for_serving = false;
    // The most bytes of metric points a job may store (tests make it small).
    int64_t max_metric_bytes_per_job = kMaxMetricBytesPerJob;
  };

  // Loads queued and running jobs from `store` (which must outlive the scheduler): queued ones
  // are scheduled as workers connect, running ones wait one lease for their worker to reconnect
  // and re-attach, then are requeued.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(JobStore* store, Options options);
  ~Scheduler();
  // The coordinator serves: restored ranks no worker re-attached yet get a whole lease from now
  // (with restored_leases_wait_for_serving, none lapses before this), and a restored attempt
  // whose time limit passed while the coordinator was down is stopped from now: its worker is
  // told when it re-attaches, and let go a lease later only if it says nothing.
  void Serving();

  // Stores new jobs in one transaction (all or none), queues the new ones and schedules;
  // returns each as it stands now (a retried one as it already was).
  // `options` as JobStore::CreateJobs takes them (a sweep's record, the owner's limit, a
  // search's pending re-runs).
  absl::StatusOr<std::vector<polytrain::v1::Job>> Submit(std::vector<polytrain::v1::Job> jobs,
                                                         const CreateJobsOptions& options = {});
  // A queued job is cancelled at once; a running one is asked to stop and stays RUNNING until
  // its worker confirms (or its lease lapses). FAILED_PRECONDITION for a job that already ended.
  absl::StatusOr<polytrain::v1::Job> Cancel(const std::string& job_id);
  // Deletes an ended job from the store (JobStore::DeleteJob) and returns it as it was, with
  // its metric points' count. FAILED_PRECONDITION for a job that has not ended and for a trial
  // of a search still running; the caller removed its checkpoint files before (DeletableJob).
  absl::StatusOr<std::pair<polytrain::v1::Job, int64_t>> DeleteEndedJob(const std::string& job_id);
  // The job, if DeleteEndedJob would delete it now (the same refusals otherwise).
  absl::StatusOr<polytrain::v1::Job> DeletableJob(const std::string& job_id);
  // Starts a watch: returns the job as it is and where its stored history ends, and sends every
  // later event to `watcher` until the job ends (a job that already ended gets OnEnd at once).
  // The history itself is read by the watcher, outside the scheduler's lock: a long one holds
  // up nothing else.
  absl::StatusOr<WatchStart> Watch(const std::string& job_id, JobWatcher* watcher);
  // Stops sending to `watcher` (the client went away). No OnEnd follows.
  void Unwatch(const std::string& job_id, JobWatcher* watcher);

  // A worker's stream opened with a (valid) hello and the worker token `token` (empty without
  // tokens); returns its session. ALREADY_EXISTS when a worker of that name is connected;
  // PERMISSION_DENIED when that name is bound to another token (ranks of a worker of that name
  // wait for it and ran under another token: a holder of one token cannot take, or end, another's
  // jobs); UNAUTHENTICATED when RevokeWorkerTokens revoked the token since the stream opened.
  absl::StatusOr<int64_t> ConnectWorker(const polytrain::v1::Hello& hello, WorkerChannel* channel,
                                        const WorkerToken& token = {});
  // The stream closed; its running jobs keep their leases until they lapse.
  void DisconnectWorker(int64_t session);
  // From now on only worker tokens `still_valid` accepts connect (a reload of --tokens): the
  // stream of every connected worker whose token it refuses is closed (UNAUTHENTICATED), and the
  // worker takes no more jobs; its jobs wait for their leases like those of any worker gone. A
  // stream opened before and not yet said hello is refused at its hello. Returns how many closed.
  int RevokeWorkerTokens(std::function<bool(const WorkerToken&)> still_valid);

  // What a worker reports about its jobs (checked messages). A message about a job counts only
  // from the worker and attempt that hold its lease; others are dropped (OK). FAILED_PRECONDITION
  // for a session that is not connected.
  absl::Status RenewLeases(int64_t session, const polytrain::v1::Heartbeat& heartbeat);
  absl::Status AddMetrics(int64_t session, const polytrain::v1::MetricBatch& batch);
  absl::Status AttemptStarted(int64_t session, const polytrain::v1::JobStarted& started);
  absl::Status AttemptFinished(int64_t session, const polytrain::v1::JobFinished& finished);
  absl::Status AttemptFailed(int64_t session, const polytrain::v1::JobFailed& failed);
  // A report of `session`'s about `job_id` was refused for `why` (it is acknowledged as such):
  // kept with the attempt that worker runs, if any, so that if its lease lapses (the worker
  // reports nothing the coordinator takes: one of another version), the job's error says why.
  void NoteRefusedReport(int64_t session, const std::string& job_id, absl::string_view why);
  // Rank 0 of a gang listens at `ready.address`: passed on to the other ranks.
  absl::Status RendezvousReady(int64_t session, const polytrain::v1::RendezvousReady& ready);

  // --- Search trials (successive halving; search_controller.h decides, this carries out) ---
  // Called with a sweep's id, outside the scheduler's lock, after one of its search trials paused
  // or ended (set once, before workers connect). Setting another (or none) waits for the calls
  // in flight to return, so the old listener may be destroyed after.
  void SetSweepListener(std::function<void(const std::string& sweep_id)> listener);
  // Queues a PAUSED trial again after `change` (its next rung) is applied: it resumes from its
  // checkpoint on whichever worker takes it. FAILED_PRECONDITION when it is not PAUSED.
  absl::Status ResumeTrial(const std::string& job_id,
                           const std::function<void(polytrain::v1::Job*)>& change);
  // Tells the sweep listener of `sweep_id` again at the next chance (a decision that failed).
  void SweepNeedsDecision(const std::string& sweep_id);
  // Ends a PAUSED trial as STOPPED with `reason`. FAILED_PRECONDITION when it is not PAUSED.
  absl::Status StopTrial(const std::string& job_id, const std::string& reason);

  // A received file of `attempt` of the job, checked and waiting to be put at `path`: `publish`
  // puts it there, called under the scheduler's lock only while that attempt still runs
  // (FAILED_PRECONDITION otherwise, and nothing is put in place: an attempt given up on while
  // it uploaded never replaces a file of the attempt after it). A checkpoint becomes the job's
  // newest (Job.checkpoint), and its best too when spec.checkpoint.keep_best_by scores it above
  // the best so far (by the evaluation stored at its step). Returns the best one's path (empty:
  // none), which the store keeps beside the newest. `publish` should not wait for a disk (it
  // runs under the lock): renames, no syncs.
  absl::StatusOr<std::string> StoreArtifact(const std::string& job_id, int32_t attempt,
                                            const std::string& path,
                                            const std::function<absl::Status()>& publish);

  // OK when the store has the job; NOT_FOUND ("job_id: no job <id>") otherwise. Takes no lock.
  absl::Status JobExists(const std::string& job_id) const;
  // The worker whose session `session_key` names (Welcome.session_key) may store a checkpoint
  // of `attempt` of the job: that attempt runs, on that worker. FAILED_PRECONDITION naming the
  // attempt when it does not run (an upload from an attempt the coordinator gave up on must not
  // become the job's checkpoint), PERMISSION_DENIED when it runs elsewhere: every worker may
  // hold the same token, and only the session proves which one calls. A checkpoint's `name`
  // carries its step, at most the job's spec.max_steps (INVALID_ARGUMENT).
  absl::Status MayStore(const std::string& session_key, const std::string& job_id, int32_t attempt,
                        const std::string& name);
  // The worker whose session `session_key` names may download `path` (a
  // DownloadArtifactRequest's): the checkpoint ("<job id>/ckpt-...") of a job it runs, or an
  // uploaded file ("sha256/<hex>") the spec of a job it runs names. PERMISSION_DENIED
  // otherwise: a worker reads only what its own jobs need.
  absl::Status CheckDownload(const std::string& session_key, const std::string& path);

  // Requeues or fails every running job whose lease lapsed before `now`.
  void ExpireLeases(Clock::time_point now);

  // Why a queued job has not started (Job.waiting_for), from the workers connected now; empty
  // for a job that is not waiting in the queue.
  std::string WaitingFor(const polytrain::v1::Job& job);

  int ConnectedWorkers();
  // Ends every worker's stream (WorkerChannel::Close) and every watch (JobWatcher::OnShutdown),
  // saying the coordinator is shutting down, so that a shutdown does not wait out its grace
  // period for streams that never end by themselves.
  void CloseStreamsForShutdown();
  size_t QueuedJobs();
  const Options& options() const { return options_; }

 private:
  struct WorkerState {
    int64_t session = 0;
    std::string key;    // Welcome.session_key
    WorkerToken token;  // the worker token it connected with (empty without tokens)
    polytrain::v1::Hello hello;
    WorkerChannel* channel = nullptr;
    std::set<std::string> running;
    // Jobs it was told to stop (a gang's other ranks, a requeued attempt) and has not confirmed
    // yet: their slots stay taken, and their next attempt goes elsewhere (the worker would not
    // start a job it still runs).
    std::set<std::string> stopping;
    bool cuda = false;
    // The threads it gives each job (api/worker_threads.h); a hello without Hello.threads sets
    // no bound (the most an int holds).
    int threads_per_job = std::numeric_limits<int>::max();
    // It gave a job back (JobFailed.released): it is shutting down, and gets no more work.
    bool draining = false;
    // Jobs whose dropped reports were logged (ReportDroppedLocked), at most a few.
    std::set<std::string> dropped_logged;
    // Jobs it gave back while staying (no room for their files): each goes to another worker
    // that could run it while there is one (probe CP: a full worker had a job back three times
    // in 15 ms, its attempts spent, while a worker with room stood idle).
    std::set<std::string> gave_back;
    bool HasFreeSlot() const {
      return !draining && static_cast<int>(running.size() + stopping.size()) < hello.slots();
    }
  };
  struct Rank {
    int64_t session = -1;  // -1: its worker is gone, waiting for a reconnect or the lease
    std::string worker;    // the worker's name: who may re-attach it
    Clock::time_point lease_expiry;
    bool done = false;  // a rank > 0 that finished its part (rank 0's finish ends the job)
    // Rebuilt from the store by a restarted coordinator, which did not keep `done`.
    bool restored = false;
    // The session key of the stream it runs under: a reconnecting worker re-attaches it only by
    // naming that key (Hello.previous_session_key). Empty for a restored rank: the key was not
    // stored, so after a coordinator restart the worker's name alone re-attaches it.
    std::string key;
    // The worker token its worker connected with: while it waits for its worker, only a hello
    // with that token may use the worker's name. Empty without tokens, and for a restored rank.
    std::string token_name;
    // Why its worker's latest refused report about this attempt was refused (NoteRefusedReport),
    // until a report is taken again.
    std::string refused_report;
    // A report of its worker's taken: the lease runs again from now.
    void Renew(Clock::time_point expiry) {
      lease_expiry = expiry;
      refused_report.clear();
    }
  };
  struct RunningJob {
    int32_t attempt = 0;
    std::vector<Rank> ranks;  // one for a job of one replica
    bool cancel_requested = false;
    std::string rendezvous;  // rank 0's, once it reported it
    // Set when the store refused this attempt's requeue for a cause other than a lapsed lease
    // (a lost gang, a worker back without it): the lease loop tries it again.
    std::string requeue_error;
    // Its worker is shutting down and gave it back: requeued without counting the attempt.
    bool given_back = false;
    // spec.time_limit_seconds from the attempt's start (max: none). Once past it the attempt is
    // `timed_out`: its ranks are told to stop, and it ends FAILED, never requeued.
    Clock::time_point deadline = Clock::time_point::max();
    bool timed_out = false;
    // A lease after its cancel (max: none asked for): a worker that renews its lease but never
    // confirms the stop (hung, or hostile) is let go then, as one past its time limit is.
    Clock::time_point cancel_let_go = Clock::time_point::max();
    // The bytes of the job's stored metric points (-1: not counted since the attempt started,
    // which deletes the points past its checkpoint); batches add theirs.
    int64_t metric_bytes = -1;
    // The newest step of rank 0's metric points: how far the attempt trained, whichever rank
    // reports its end (only rank 0 reports points). After a coordinator restart, the newest of
    // the job's stored points (an earlier attempt's, until this one's JobStarted deletes those).
    int64_t newest_step = 0;
    polytrain::v1::Job job;  // as assigned: names and labels for the per-job series
  };
  // The running job whose rank `session` holds, at `attempt` (0: any), with that rank's index.
  struct Owned {
    RunningJob* job = nullptr;
    int rank = 0;
  };

  // Declared before a public method's lock: once the lock is released, tells the sweep listener
  // of every sweep whose trials paused or ended meanwhile.
  class SweepNotifier {
   public:
    explicit SweepNotifier(Scheduler* scheduler) : scheduler_(scheduler) {}
    ~SweepNotifier();
    SweepNotifier(const SweepNotifier&) = delete;
    SweepNotifier& operator=(const SweepNotifier&) = delete;

   private:
    Scheduler* scheduler_;
  };

  Scheduler(JobStore* store, Options options) : store_(store), options_(options) {}
  // A trial's segment ended at its rung: PAUSED with that rung's evaluation; its slot is free.
  absl::Status PauseTrialLocked(const polytrain::v1::JobFinished& finished);
  // The job if it is PAUSED; FAILED_PRECONDITION naming its state otherwise.
  absl::StatusOr<polytrain::v1::Job> PausedJobLocked(const std::string& job_id);
  // Remembers the sweep of `job` (a search trial) for the SweepNotifier.
  void SweepJobSettledLocked(const polytrain::v1::Job& job);
  absl::StatusOr<polytrain::v1::Job> DeletableJobLocked(const std::string& job_id);
  static polytrain::v1::CoordinatorMessage CancelMessage(const std::string& job_id);
  Clock::duration Lease() const;
  void LeaseLoop();
  // Assigns queued jobs to free slots until none fits; returns the jobs it started.
  std::vector<polytrain::v1::Job> ScheduleLocked();
  // Notes a placement the store refused (logged once until one succeeds again); false. The
  // lease loop places again, after kStoreBackoff.
  bool PlacementFailedLocked(const absl::Status& status);
  // Starts `entry`'s job on `chosen` (one worker per rank); false when the store failed.
  bool StartLocked(const JobQueue::Entry& entry, const std::vector<WorkerState*>& chosen,
                   std::vector<polytrain::v1::Job>* started);
  // Up to `count` workers with a free slot for `need` that are not still stopping `job_id` and
  // give each job at least `threads`, those that give the fewest first (then in connection
  // order); with `without_gpu`, only workers that have none. `threads` 0: the first free ones.
  // With `avoid_given_back`, not a worker that gave `job_id` back either.
  std::vector<WorkerState*> FreeWorkersLocked(DeviceNeed need, int count,
                                              const std::string& job_id = "",
                                              bool without_gpu = false, int threads = 0,
                                              bool avoid_given_back = false);
  // Whether a connected worker that did not give `entry`'s job back could run it (its device
  // and threads; a free slot or not).
  bool AnotherWorkerCouldRunLocked(const JobQueue::Entry& entry) const;
  // A gang's workers if all its ranks fit now (one worker each), else fewer.
  std::vector<WorkerState*> GangWorkersLocked(const JobQueue::Entry& gang);
  // `session`'s worker confirmed that `job_id` stopped there (any message about it, or a
  // heartbeat without it): true when that freed a slot.
  bool StoppedLocked(int64_t session, const std::string& job_id);
  // Whether a gang that does not fit now stops the jobs behind it (see the class comment).
  bool HoldsTheLineLocked(const JobQueue::Entry& gang, Clock::time_point now);
  // The gang placement stops at: the first waiting, in queue order, that fits now (`*workers`
  // its workers) or holds the line (`*workers` empty); none when no gang does either.
  std::optional<JobQueue::Entry> DecidingGangLocked(Clock::time_point now,
                                                    std::vector<WorkerState*>* workers);
  std::string WaitingForLocked(const polytrain::v1::Job& job);
  // Which worker tokens may connect (RevokeWorkerTokens); empty: every one that authenticated.
  std::function<bool(const WorkerToken&)> token_still_valid_;
  Owned OwnedLocked(int64_t session, const std::string& job_id, int32_t attempt);
  // A report (`kind`: metrics, started, ...) about an attempt `session`'s worker does not hold
  // (ended, requeued, another worker's, no such job): acknowledged and dropped, but counted, and
  // logged once per job and worker stream.
  void ReportDroppedLocked(int64_t session, const char* kind, const std::string& job_id,
                           int32_t attempt);
  // A rank of a gang whose attempt another rank's report already ended says why it lost the gang
  // (often the cause: its own gang process was killed): its words join that ended attempt's
  // reason (the job's error too while it is that reason), or the job's error where the loss
  // left no attempts; once per rank, within the bound of an error.
  void NoteLateRankLocked(int64_t session, const polytrain::v1::JobFailed& failed);
  // The worker of a rank that a lost gang's first report could only name as not seen gone (its
  // stream's end raced that report: a worker killed) disconnected: said in that attempt's reason
  // (or the job's error where no attempts were left), as a late rank's words are.
  void NoteDisconnectedRankLocked(const std::string& job_id, const std::string& worker);
  // NoteLateRankLocked's and NoteDisconnectedRankLocked's part: appends "; then rank R on worker
  // W<verb><words>" to the reason `attempt` ended with (0: the newest ended attempt's, or the
  // job's error where it failed for want of attempts).
  void NoteOnEndedAttemptLocked(const std::string& job_id, int32_t attempt,
                                const std::string& worker_name, const std::string& verb,
                                const std::string& words);
  // Tells every rank of `job` that has not stopped to stop, and frees its slot.
  void StopRanksLocked(const std::string& job_id, RunningJob& job);
  // Ends the job in `state`; ranks still running elsewhere are told to stop. Job.steps becomes
  // `steps` (how far an attempt that failed trained) when that is further.
  absl::Status FinishJobLocked(const std::string& job_id, polytrain::v1::JobState state,
                               const std::string& error,
                               const google::protobuf::Map<std::string, double>* metrics,
                               int64_t steps = 0);
  // The attempt is lost (a lapsed lease, a gang that lost a rank): its ranks are told to stop and
  // the job is queued again as a new attempt, or fails when it has no attempts left.
  // Ends the attempt and queues the job again (or fails it with no attempts left, or cancels
  // it when asked to). False when the store refused, and nothing changed; with
  // `retry_if_refused` the lease loop then tries again (a lapsed lease needs no mark: it is
  // still lapsed at the next look).
  bool RequeueLocked(const std::string& job_id, const std::string& error, bool retry_if_refused);
  // When the attempt of `job` (just started, or restored from the store) runs out of time.
  static Clock::time_point AttemptDeadline(const polytrain::v1::Job& job);
  // Tells the ranks of attempts past their time limit to stop; returns those whose workers have
  // not stopped them a lease later, and those cancelled a lease ago and still running, for
  // LetGoOfTimedOutLocked.
  std::vector<std::string> EnforceTimeLimitsLocked(Clock::time_point now);
  // Ends a timed-out or cancelled attempt nobody confirmed stopping: FAILED (CANCELLED if a
  // cancel was asked for). False when the store refused.
  bool LetGoOfTimedOutLocked(const std::string& job_id, Clock::time_point now);
  // "ran past spec.time_limit_seconds (N s) on attempt A".
  static std::string TimeLimitError(const RunningJob& job);
  absl::Status AttemptRunsLocked(const std::string& job_id, int32_t attempt) const;
  // Makes the checkpoint just stored at `path` the job's best_checkpoint where its
  // spec.checkpoint.keep_best_by scores it better (unchanged in `job` otherwise, and where the
  // evaluation cannot be read: logged, the checkpoint stays stored).
  void ScoreCheckpointLocked(const std::string& path, polytrain::v1::Job& job);
  // The job's newest checkpoint scored by an evaluation at its step in `batch` (just stored),
  // which came after the checkpoint; the job's record updated if it became the best.
  void ScoreNewestCheckpointLocked(const polytrain::v1::MetricBatch& batch,
                                   const polytrain::v1::JobSpec& spec);
  // The connected worker whose session `key` names; PERMISSION_DENIED naming session_key when
  // none is.
  absl::StatusOr<const WorkerState*> SessionForKeyLocked(const std::string& key) const;
  // After `hello`: the ranks its worker held and no longer claims are requeued (or done).
  // Forgets a session's stream: its ranks wait for a reconnect or their lease.
  void DetachSessionLocked(int64_t session);
  void ForgetUnclaimedRanksLocked(const polytrain::v1::Hello& hello);
  // Counts one job moving between states, and refreshes queue depth and workers connected.
  void CountTransitionLocked(polytrain::v1::JobState from, polytrain::v1::JobState to);
  void RefreshGaugesLocked();

  JobStore* const store_;
  const Options options_;

  std::mutex mu_;
  std::map<int64_t, WorkerState> workers_;  // by session, oldest first
  std::map<std::string, RunningJob> running_;
  JobQueue queue_;
  JobWatchers watchers_;
  int64_t next_session_ = 1;
  // Until then the lease loop tries no requeue: the store refused one (see ExpireLeases).
  Clock::time_point store_backoff_until_;
  static constexpr std::chrono::seconds kStoreBackoff{5};
  std::set<std::string> settled_sweeps_;                    // for the SweepNotifier
  std::function<void(const std::string&)> sweep_listener_;  // set before any use
  int listener_calls_ = 0;                                  // in flight, outside mu_
  std::condition_variable listener_idle_;

  std::condition_variable stop_cv_;
  bool stopping_ = false;
  // Why the store refused the last scheduling pass's placement (a full disk, say); empty when
  // that pass placed or had nothing to place. The lease loop places again while it is set,
  // since no event may come.
  std::string placement_failure_;
  bool placement_failure_logged_ = false;  // until a placement writes again
  bool serving_ = false;                   // Serving() was called
  std::thread lease_thread_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SCHEDULER_H_
