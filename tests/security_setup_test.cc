// The coordinator's refusals of set-ups that are unsafe or broken: a second coordinator on the
// same database or artifacts directory (by any path), and flags, certificates and tokens files
// that cannot work, each refused at start with the flag named.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "gtest/gtest.h"
#include "testing/process.h"
#include "tests/security_fixture.h"

namespace polytrain {
namespace security_test {
namespace {

TEST_F(SecurityTest, OneCoordinatorPerDatabaseAndArtifactsDirectoryWithNoLockLeftByAKill) {
  StartCoordinator();
  const std::string db = (dir_ / "jobs.db").string();
  const std::string artifacts = (dir_ / "artifacts").string();
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  // The same database by another path: the lock is the file's own, not its name's.
  const std::string symlink = (dir_ / "jobs-link.db").string();
  const std::string hardlink = (dir_ / "jobs-hard.db").string();
  fs::create_symlink(db, symlink);
  fs::create_hard_link(db, hardlink);
  const std::string held = ": another coordinator (process " + std::to_string(coordinator_->pid()) +
                           ") is using it; one coordinator per database and artifacts directory";
  for (const Case& c : std::vector<Case>{
           {{"--db", db, "--artifacts", (dir_ / "other-artifacts").string()}, "--db " + db + held},
           {{"--db", symlink, "--artifacts", (dir_ / "other-artifacts").string()},
            "--db " + symlink + held},
           {{"--db", hardlink, "--artifacts", (dir_ / "other-artifacts").string()},
            "--db " + hardlink + held},
           {{"--db", (dir_ / "other.db").string(), "--artifacts", artifacts},
            "--artifacts " + artifacts + held},
       }) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--listen", "127.0.0.1:0", "--plaintext", "--metrics_listen", ""});
    const fs::path log = dir_ / "second.log";
    Process second(POLYTRAIN_COORDINATOR_BINARY, args, log.string());
    EXPECT_EQ(second.Wait(), 1) << c.error;
    EXPECT_NE(ReadFile(log).find(c.error), std::string::npos) << ReadFile(log);
  }
  EXPECT_FALSE(fs::exists(dir_ / "other.db"));         // refused before it was created
  EXPECT_FALSE(fs::exists(dir_ / "other-artifacts"));  // a busy database refuses first
  // Nor on its port with a store of its own: gRPC would share the port (SO_REUSEPORT) and split
  // clients and workers between two stores.
  {
    const std::string address = "127.0.0.1:" + std::to_string(port_);
    const fs::path log = dir_ / "same-port.log";
    Process second(POLYTRAIN_COORDINATOR_BINARY,
                   {"--listen", address, "--plaintext", "--db", (dir_ / "port.db").string(),
                    "--artifacts", (dir_ / "port-artifacts").string(), "--metrics_listen", ""},
                   log.string());
    EXPECT_EQ(second.Wait(), 1);
    EXPECT_NE(ReadFile(log).find("--listen " + address + ": cannot listen there"),
              std::string::npos)
        << ReadFile(log);
  }
  // A coordinator killed outright takes its locks with it: the next one starts on both.
  coordinator_->Kill(SIGKILL);
  fs::remove(dir_ / "port");
  fs::remove(dir_ / "metrics_port");
  StartCoordinator();  // fails the test unless it serves (writes its port)
}

TEST_F(SecurityTest, TheCoordinatorRefusesUnsafeOrBrokenSetups) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
    int exit = kExitInvalid;  // a missing file is kExitNotFound; a malformed flag kExitUsage
  };
  const std::string tokens = (dir_ / "tokens.txt").string();
  std::ofstream(dir_ / "bad-tokens.txt") << "client alice " << kAliceToken << "\n";
  // Another program's SQLite file (Python's sqlite3 module makes it; no sqlite3 tool needed).
  const fs::path foreign = dir_ / "foreign.db";
  const fs::path inspect = dir_ / "inspect.py";
  std::ofstream(inspect)
      << "import sqlite3, sys\n"
         "db = sqlite3.connect(sys.argv[1])\n"
         "if sys.argv[2] == 'make':\n"
         "    db.execute('CREATE TABLE notes (text TEXT)'); db.commit()\n"
         "else:\n"
         "    mode = db.execute('PRAGMA journal_mode').fetchone()[0]\n"
         "    names = [r[0] for r in db.execute('SELECT name FROM sqlite_master')]\n"
         "    sys.exit(0 if (mode, names) == ('delete', ['notes']) else 1)\n";
  ASSERT_TRUE(Shell("python3 '" + inspect.string() + "' '" + foreign.string() + "' make"));
  // A port someone else holds, for /metrics.
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(taken, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  ASSERT_EQ(getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string taken_address = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  const std::string garbage = (dir_ / "garbage.pem").string();
  std::ofstream(garbage) << "not a certificate\n";
  for (const Case& c : std::vector<Case>{
           // Certificates and keys are read and checked before anything starts.
           {{"--listen", "127.0.0.1:0", "--tls_cert", garbage, "--tls_key", Pki("server.key")},
            "--tls_cert " + garbage + ": no PEM certificate in it"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("server.pem"), "--tls_key",
             Pki("worker.key")},
            "--tls_key " + Pki("worker.key") + ": not the key of the certificate in --tls_cert " +
                Pki("server.pem")},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("server.pem"), "--tls_key", garbage},
            "--tls_key " + garbage + ": no unencrypted PEM private key in it"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("expired.pem"), "--tls_key",
             Pki("expired.key")},
            "--tls_cert " + Pki("expired.pem") +
                ": the certificate expired on Jan  2 00:00:00 2020"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("server.pem"), "--tls_key",
             Pki("server.key"), "--tls_client_ca", garbage},
            "--tls_client_ca " + garbage + ": no PEM certificate in it"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", dir_.string(), "--tls_key",
             Pki("server.key")},
            "--tls_cert " + dir_.string() + ": is a directory"},
           // The store: another program's database is not touched, nor a memory one taken.
           {{"--listen", "127.0.0.1:0", "--plaintext", "--db", foreign.string(), "--artifacts",
             (dir_ / "refused-artifacts").string()},
            "--db " + foreign.string() + ": not a PolyTrain database (it has other tables: notes)"},
           {{"--listen", "127.0.0.1:0", "--plaintext", "--db", ":memory:"},
            "--db: must name a file (jobs must outlive the process), got ':memory:'"},
           // A directory nobody may create files in, root included (sysfs).
           {{"--listen", "127.0.0.1:0", "--plaintext", "--artifacts", "/sys/kernel"},
            fs::is_directory("/sys/kernel") ? "--artifacts /sys/kernel: cannot write there: "
                                            : "--artifacts /sys/kernel: "},
           {{"--listen", "127.0.0.1:0"}, "--tls_cert/--tls_key: give a certificate and key"},
           {{"--listen", "0.0.0.0:0", "--plaintext"}, "--plaintext: only on a loopback address"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("server.pem")},
            "--tls_key: needed with the other"},
           {{"--listen", "127.0.0.1:0", "--tls_cert", Pki("missing.pem"), "--tls_key",
             Pki("server.key")},
            "--tls_cert " + Pki("missing.pem") + ": no such file",
            kExitNotFound},
           {{"--listen", "127.0.0.1:0", "--plaintext", "--tokens",
             (dir_ / "bad-tokens.txt").string()},
            "bad-tokens.txt:1: the third field must be sha256:"},
           {{"--listen", "127.0.0.1:0", "--plaintext", "--tokens", tokens + ".missing"},
            "--tokens " + tokens + ".missing: no such file",
            kExitNotFound},
           {{"--listen", "127.0.0.1:0", "--plaintext", "--metrics_listen", taken_address},
            "--metrics_listen " + taken_address + ": cannot listen there: the port is in use"},
           {{"--listen", taken_address, "--plaintext"},
            "--listen " + taken_address +
                ": cannot listen there (the port is in use, or the address is not this "
                "machine's)"},
           // A typo must not make a tree of directories: only the last one is made.
           {{"--listen", "127.0.0.1:0", "--plaintext", "--artifacts",
             (dir_ / "no" / "such" / "artifacts").string()},
            "--artifacts " + (dir_ / "no" / "such" / "artifacts").string() + ": no directory " +
                (dir_ / "no" / "such").string() + " to make it in"},
           // A script waiting for the port file would wait forever.
           {{"--listen", "127.0.0.1:0", "--plaintext", "--port_file",
             (dir_ / "nodir" / "port").string()},
            "--port_file " + (dir_ / "nodir" / "port").string() +
                ": cannot write: No such file or directory"},
           {{"--listen", "127.0.0.1:99999", "--plaintext"},
            "--listen: expected HOST:PORT with a port in [0, 65535] (0 picks a free one), got "
            "'127.0.0.1:99999'",
            kExitUsage},
           {{"--listen", "127.0.0.1", "--plaintext"},
            "--listen: expected HOST:PORT with a port in [0, 65535] (0 picks a free one), got "
            "'127.0.0.1'",
            kExitUsage},
       }) {
    std::vector<std::string> args = c.args;
    if (std::find(args.begin(), args.end(), "--db") == args.end()) {
      args.insert(args.end(), {"--db", (dir_ / "refused.db").string()});
    }
    if (std::find(args.begin(), args.end(), "--metrics_listen") == args.end()) {
      args.insert(args.end(), {"--metrics_listen", ""});
    }
    const fs::path log = dir_ / "refused.log";
    Process coordinator(POLYTRAIN_COORDINATOR_BINARY, args, log.string());
    EXPECT_EQ(coordinator.Wait(), c.exit) << c.error;
    const std::string output = ReadFile(log);
    EXPECT_NE(output.find(c.error), std::string::npos) << output;
    // One line (a usage error's second says --help): gRPC's own account of a refused port is not
    // shown beside ours.
    EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), c.exit == kExitUsage ? 2 : 1)
        << output;
    EXPECT_EQ(output.find(kAliceToken), std::string::npos) << "echoed a secret: " << output;
  }
  close(taken);
  EXPECT_FALSE(fs::exists(dir_ / "refused.db"));         // refused before anything was written
  EXPECT_FALSE(fs::exists(dir_ / "refused-artifacts"));  // made, then removed with the refusal
  // The other program's database is as it was: not switched to WAL, nothing added.
  EXPECT_TRUE(Shell("python3 '" + inspect.string() + "' '" + foreign.string() + "' check"));
}

}  // namespace
}  // namespace security_test
}  // namespace polytrain
