// qf_peer: a QuickFIX C++ counterparty for interoperability tests and benchmarks of fixrs.
//
// This is our own code linking the QuickFIX library (Debian libquickfix-dev 1.15.1); nothing here is
// copied from QuickFIX's sources. docs/INTEROP.md documents the command line, the summary line and
// the state file; `qf_peer --help` prints the options.
//
// Threads: QuickFIX's threaded socket classes run one thread per connection and call the
// Application callbacks on it. Their sends are blocking writes, so a fast sender is held back by TCP
// instead of growing an unbounded queue. With no --rate, the initiator sends the next order from
// the ExecutionReport callback itself: a round trip then measures QuickFIX and the kernel, not a
// thread hand-off.

#include <quickfix/Application.h>
#include <quickfix/Exceptions.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/ThreadedSocketAcceptor.h>
#include <quickfix/ThreadedSocketInitiator.h>
#include <quickfix/fix42/ExecutionReport.h>
#include <quickfix/fix42/NewOrderSingle.h>
#include <quickfix/fix44/ExecutionReport.h>
#include <quickfix/fix44/NewOrderSingle.h>
#include <quickfix/fix50sp2/ExecutionReport.h>
#include <quickfix/fix50sp2/NewOrderSingle.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Exit codes: the scripts tell a protocol failure from a broken invocation.
constexpr int EXIT_OK = 0;
constexpr int EXIT_CHECK_FAILED = 1;
constexpr int EXIT_USAGE = 2;
constexpr int EXIT_TIMEOUT = 3;
constexpr int EXIT_QUICKFIX = 4;

// Bounds on what the command line may ask for: every table below is sized from them.
constexpr long MAX_ORDERS = 10000000;
constexpr long MAX_WINDOW = 1000;
constexpr long MAX_TIMEOUT_S = 3600;
constexpr long MAX_ACCEPTOR_IDS = 50000000;

struct Options {
  std::string settings;
  std::string role;
  std::string mode = "orders";
  std::string report;
  std::string state;
  std::string store = "auto";
  std::string logDir;
  std::string readyFile;
  std::string onTerm = "logout";
  std::string symbol = "MSFT";
  long orders = 0;
  long window = 1;
  double rate = 0.0;
  long stopAfter = 0;
  long warmup = 0;
  long answerTwice = 0;
  long drop = 0;
  long timeoutS = 60;
  long logonTimeoutS = 10;
  long durationS = 5;
  long graceMs = 500;
  bool latency = false;
  bool noReply = false;
  bool exitAfterLogout = false;
};

void usage(FILE* out) {
  std::fprintf(
      out,
      "usage: qf_peer --settings FILE --role acceptor|initiator [options]\n"
      "common:\n"
      "  --store auto|file|memory   auto: FileStore when FileStorePath is set, else MemoryStore\n"
      "  --log DIR                  QuickFIX FileLog into DIR (default: no message log)\n"
      "  --report FILE              also write the summary line(s) to FILE\n"
      "  --timeout S                bound on the whole run in seconds (default 60)\n"
      "  --on-term logout|abrupt    SIGTERM/SIGINT: log out cleanly, or exit(0) at once without\n"
      "                             Logout (default logout)\n"
      "initiator:\n"
      "  --mode orders|throughput   (default orders)\n"
      "  --orders N                 orders: ClOrdIDs 1..N; throughput: upper bound on orders\n"
      "  --window W                 orders in flight, 1..%ld (default 1)\n"
      "  --rate R                   orders per second paced by the main thread (default: next\n"
      "                             order sent from the ExecutionReport callback)\n"
      "  --stop-after K             exit(0) abruptly, without Logout, once K orders were sent\n"
      "  --state FILE               persist progress across runs (resume after --stop-after)\n"
      "  --latency                  print round-trip percentiles (rtt_us_*)\n"
      "  --warmup W                 leave the first W orders out of the percentiles\n"
      "  --duration S               throughput: seconds of sending (default 5)\n"
      "  --logon-timeout S          bound on the wait for Logon (default 10)\n"
      "  --grace-ms MS              after this run's orders are answered, wait this long for\n"
      "                             reports of earlier runs' orders (default 500)\n"
      "  --symbol SYM               Symbol <55> of the orders (default MSFT)\n"
      "acceptor:\n"
      "  --no-reply                 count orders, send no ExecutionReport (throughput far side)\n"
      "  --exit-after-logout        exit once a logged-on session has logged out\n"
      "  --ready-file FILE          create FILE once the acceptor listens\n"
      "  --answer-twice ID          fault injection: answer ClOrdID ID twice (no PossDup)\n"
      "  --drop ID                  fault injection: never answer ClOrdID ID\n",
      MAX_WINDOW);
}

bool parseLong(const char* s, long lo, long hi, long* out) {
  if (s == nullptr || *s == '\0') return false;
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// Returns false (after printing why) on any malformed option.
bool parseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char** v) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "qf_peer: %s needs a value\n", a.c_str());
        return false;
      }
      *v = argv[++i];
      return true;
    };
    auto number = [&](long lo, long hi, long* out) {
      const char* v = nullptr;
      if (!value(&v)) return false;
      if (!parseLong(v, lo, hi, out)) {
        std::fprintf(stderr, "qf_peer: %s: expected an integer %ld..%ld, got `%s`\n", a.c_str(), lo,
                     hi, v);
        return false;
      }
      return true;
    };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(EXIT_OK);
    } else if (a == "--settings") {
      if (!value(&v)) return false;
      o->settings = v;
    } else if (a == "--role") {
      if (!value(&v)) return false;
      o->role = v;
    } else if (a == "--mode") {
      if (!value(&v)) return false;
      o->mode = v;
    } else if (a == "--report") {
      if (!value(&v)) return false;
      o->report = v;
    } else if (a == "--state") {
      if (!value(&v)) return false;
      o->state = v;
    } else if (a == "--store") {
      if (!value(&v)) return false;
      o->store = v;
    } else if (a == "--log") {
      if (!value(&v)) return false;
      o->logDir = v;
    } else if (a == "--ready-file") {
      if (!value(&v)) return false;
      o->readyFile = v;
    } else if (a == "--on-term") {
      if (!value(&v)) return false;
      o->onTerm = v;
    } else if (a == "--symbol") {
      if (!value(&v)) return false;
      o->symbol = v;
    } else if (a == "--orders") {
      if (!number(1, MAX_ORDERS, &o->orders)) return false;
    } else if (a == "--window") {
      if (!number(1, MAX_WINDOW, &o->window)) return false;
    } else if (a == "--rate") {
      long r = 0;
      if (!number(0, 10000000, &r)) return false;
      o->rate = static_cast<double>(r);
    } else if (a == "--stop-after") {
      if (!number(1, MAX_ORDERS, &o->stopAfter)) return false;
    } else if (a == "--warmup") {
      if (!number(0, MAX_ORDERS, &o->warmup)) return false;
    } else if (a == "--timeout") {
      if (!number(1, MAX_TIMEOUT_S, &o->timeoutS)) return false;
    } else if (a == "--logon-timeout") {
      if (!number(1, MAX_TIMEOUT_S, &o->logonTimeoutS)) return false;
    } else if (a == "--duration") {
      if (!number(1, MAX_TIMEOUT_S, &o->durationS)) return false;
    } else if (a == "--grace-ms") {
      if (!number(0, 60000, &o->graceMs)) return false;
    } else if (a == "--answer-twice") {
      if (!number(1, MAX_ORDERS, &o->answerTwice)) return false;
    } else if (a == "--drop") {
      if (!number(1, MAX_ORDERS, &o->drop)) return false;
    } else if (a == "--latency") {
      o->latency = true;
    } else if (a == "--no-reply") {
      o->noReply = true;
    } else if (a == "--exit-after-logout") {
      o->exitAfterLogout = true;
    } else {
      std::fprintf(stderr, "qf_peer: unknown option `%s` (see --help)\n", a.c_str());
      return false;
    }
  }
  if (o->settings.empty()) {
    std::fprintf(stderr, "qf_peer: --settings is required\n");
    return false;
  }
  if (o->role != "acceptor" && o->role != "initiator") {
    std::fprintf(stderr, "qf_peer: --role must be acceptor or initiator\n");
    return false;
  }
  if (o->mode != "orders" && o->mode != "throughput") {
    std::fprintf(stderr, "qf_peer: --mode must be orders or throughput\n");
    return false;
  }
  if (o->store != "auto" && o->store != "file" && o->store != "memory") {
    std::fprintf(stderr, "qf_peer: --store must be auto, file or memory\n");
    return false;
  }
  if (o->onTerm != "logout" && o->onTerm != "abrupt") {
    std::fprintf(stderr, "qf_peer: --on-term must be logout or abrupt\n");
    return false;
  }
  if (o->role == "initiator" && o->mode == "orders" && o->orders == 0) {
    std::fprintf(stderr, "qf_peer: --orders N is required for an initiator in orders mode\n");
    return false;
  }
  if (o->role == "initiator" && o->mode == "throughput" && o->orders == 0) o->orders = MAX_ORDERS;
  if (o->stopAfter > 0 && o->stopAfter >= o->orders) {
    std::fprintf(stderr, "qf_peer: --stop-after must be below --orders\n");
    return false;
  }
  return true;
}

// Which message classes a session uses, from its BeginString.
enum class Ver { FIX42, FIX44, FIX50SP2 };

bool versionOf(const FIX::SessionID& id, Ver* v) {
  const std::string& b = id.getBeginString().getString();
  if (b == "FIX.4.2") {
    *v = Ver::FIX42;
  } else if (b == "FIX.4.4") {
    *v = Ver::FIX44;
  } else if (b == "FIXT.1.1") {
    *v = Ver::FIX50SP2;
  } else {
    return false;
  }
  return true;
}

// Writes `text` to `path` through a temporary file and rename, so a reader never sees half a file.
bool writeFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

void emit(const Options& o, const std::string& lines) {
  std::fputs(lines.c_str(), stdout);
  std::fflush(stdout);
  if (!o.report.empty() && !writeFileAtomically(o.report, lines)) {
    std::fprintf(stderr, "qf_peer: cannot write report %s: %s\n", o.report.c_str(),
                 std::strerror(errno));
  }
}

std::unique_ptr<FIX::MessageStoreFactory> makeStoreFactory(const Options& o,
                                                           const FIX::SessionSettings& s) {
  bool file = o.store == "file";
  if (o.store == "auto") {
    file = s.get().has("FileStorePath");
    for (const FIX::SessionID& id : s.getSessions()) file = file || s.get(id).has("FileStorePath");
  }
  if (file) return std::unique_ptr<FIX::MessageStoreFactory>(new FIX::FileStoreFactory(s));
  return std::unique_ptr<FIX::MessageStoreFactory>(new FIX::MemoryStoreFactory());
}

// Signals are taken by one thread with sigwait, so the handler may lock and write files.
void blockTermSignals(sigset_t* set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  pthread_sigmask(SIG_BLOCK, set, nullptr);
}

template <typename F>
void startSignalThread(const sigset_t& set, F onSignal) {
  std::thread([set, onSignal]() {
    int sig = 0;
    if (sigwait(&set, &sig) == 0) onSignal(sig);
  }).detach();
}

// ---------------------------------------------------------------------------------------------
// Initiator
// ---------------------------------------------------------------------------------------------

class OrderSender : public FIX::Application {
 public:
  explicit OrderSender(const Options& o)
      : o_(o),
        n_(o.orders),
        answered_(o.mode == "orders" ? static_cast<size_t>(o.orders) + 1 : 0, 0),
        sendNs_(o.mode == "orders" ? new std::atomic<int64_t>[o.orders + 1] : nullptr) {
    if (o.mode == "orders") latencies_.reserve(static_cast<size_t>(o.orders));
  }

  // --- progress persisted across runs (--state) ---

  // Loads the state of an earlier run; false (with a message) if it is unusable.
  bool loadState() {
    std::ifstream in(o_.state);
    if (!in) return true;  // first run
    std::string line;
    std::string answered;
    long orders = -1;
    while (std::getline(in, line)) {
      size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string k = line.substr(0, eq);
      std::string v = line.substr(eq + 1);
      long x = 0;
      if (k == "answered") {
        answered = v;
        continue;
      }
      if (!parseLong(v.c_str(), 0, MAX_ORDERS * 4, &x)) continue;
      if (k == "orders") orders = x;
      if (k == "sent") sent_ = x;
      if (k == "duplicates") duplicates_ = x;
      if (k == "possdup_repeats") possdupRepeats_ = x;
      if (k == "mismatched") mismatched_ = x;
      if (k == "unexpected") unexpected_ = x;
      if (k == "reports_total") reportsTotal_ = x;
    }
    if (orders != n_ || static_cast<long>(answered.size()) != n_ || sent_ > n_) {
      std::fprintf(stderr, "qf_peer: state file %s does not match --orders %ld\n",
                   o_.state.c_str(), n_);
      return false;
    }
    for (long i = 0; i < n_; ++i) {
      if (answered[static_cast<size_t>(i)] == '1') {
        answered_[static_cast<size_t>(i) + 1] = 1;
        ++distinct_;
      }
    }
    resumeFrom_ = sent_;
    nextId_ = sent_ + 1;
    return true;
  }

  // --- FIX::Application ---

  void onCreate(const FIX::SessionID& id) override {
    if (!versionOf(id, &ver_)) {
      std::fprintf(stderr, "qf_peer: unsupported BeginString %s\n", id.getBeginString().getString().c_str());
      std::_Exit(EXIT_USAGE);
    }
  }
  void onLogon(const FIX::SessionID& id) override {
    std::lock_guard<std::mutex> g(mu_);
    session_ = FIX::Session::lookupSession(id);
    loggedOn_ = true;
    ++logons_;
    cv_.notify_all();
  }
  void onLogout(const FIX::SessionID&) override {
    std::lock_guard<std::mutex> g(mu_);
    loggedOn_ = false;
    ++logouts_;
    cv_.notify_all();
  }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    const std::string& t = m.getHeader().getField(FIX::FIELD::MsgType);
    if (t == "2") resendRequestsSent_.fetch_add(1);
    if (t == "3") sessionRejectsSent_.fetch_add(1);
    if (t == "A" && m.isSetField(FIX::FIELD::ResetSeqNumFlag) &&
        m.getField(FIX::FIELD::ResetSeqNumFlag) == "Y")
      resetLogonsSent_.fetch_add(1);
  }
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {
    const std::string& t = m.getHeader().getField(FIX::FIELD::MsgType);
    if (t == "2") resendRequestsReceived_.fetch_add(1);
    if (t == "4") seqResetsReceived_.fetch_add(1);
    if (t == "3") sessionRejectsReceived_.fetch_add(1);
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    int64_t t = nowNs();
    const FIX::Header& h = m.getHeader();
    if (h.getField(FIX::FIELD::MsgType) != "8") {
      otherApp_.fetch_add(1);
      return;
    }
    if (!ordersMode_) return;
    bool possDup =
        h.isSetField(FIX::FIELD::PossDupFlag) && h.getField(FIX::FIELD::PossDupFlag) == "Y";
    long id = 0;
    bool idOk = m.isSetField(FIX::FIELD::ClOrdID) &&
                parseLong(m.getField(FIX::FIELD::ClOrdID).c_str(), 1, n_, &id);
    bool fieldsOk = idOk && echoMatches(m, id);
    bool sendNext = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      ++reportsTotal_;
      if (!idOk || id >= nextId_) {
        // Not one of our orders, or an answer to an order not sent yet.
        ++unexpected_;
        cv_.notify_all();
        return;
      }
      if (!fieldsOk) ++mismatched_;
      if (answered_[static_cast<size_t>(id)] != 0) {
        if (possDup) {
          ++possdupRepeats_;
        } else {
          ++duplicates_;
        }
        cv_.notify_all();
        return;
      }
      answered_[static_cast<size_t>(id)] = 1;
      ++distinct_;
      if (id > resumeFrom_) {
        ++answeredThisRun_;
        if (id > o_.warmup && latencies_.size() < latencies_.capacity()) {
          latencies_.push_back(t - sendNs_[id].load(std::memory_order_acquire));
        }
        sendNext = o_.rate <= 0.0;
      }
      cv_.notify_all();
    }
    if (sendNext) sendOne();
  }

  // --- sending ---

  // Sends the next order if there is one and we are not stopping. Any thread may call it.
  bool sendOne() {
    long id = 0;
    FIX::Session* s = nullptr;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stopping_ || nextId_ > n_ || session_ == nullptr) return false;
      id = nextId_++;
      s = session_;
      ++inSend_;
    }
    sendNs_[id].store(nowNs(), std::memory_order_release);
    bool ok = sendOrder(s, id);
    bool stopNow = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      --inSend_;
      ++sent_;
      if (!ok) ++sendFailures_;
      stopNow = o_.stopAfter > 0 && sent_ >= o_.stopAfter;
      cv_.notify_all();
    }
    if (stopNow) abruptExit("stop-after");
    return true;
  }

  // Throughput mode: order `seq` with no bookkeeping beyond a count.
  bool sendThroughputOrder(long seq) {
    FIX::Session* s = nullptr;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stopping_ || session_ == nullptr) return false;
      s = session_;
    }
    return sendOrder(s, seq);
  }

  // --- the main thread's waits; each is bounded by `deadline` ---

  bool waitLogon(Clock::time_point deadline) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_until(l, deadline, [&] { return loggedOn_ || stopping_; }) && loggedOn_;
  }

  // Paces orders at --rate, never more than --window in flight.
  void pacedSend(Clock::time_point deadline) {
    Clock::time_point start = Clock::now();
    for (long k = 0;; ++k) {
      auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * k / o_.rate));
      {
        std::unique_lock<std::mutex> l(mu_);
        if (cv_.wait_until(l, std::min(due, deadline), [&] { return stopping_; })) return;
        if (Clock::now() >= deadline || nextId_ > n_) return;
        bool room = cv_.wait_until(l, deadline, [&] {
          return stopping_ || (nextId_ - 1 - resumeFrom_) - answeredThisRun_ < o_.window;
        });
        if (!room || stopping_) return;
      }
      if (!sendOne()) return;
    }
  }

  // Waits for every order to be answered: this run's orders, then up to --grace-ms for reports of
  // orders an earlier run sent (they come back as resends, or never when the sequence was reset).
  void waitAnswers(Clock::time_point deadline) {
    std::unique_lock<std::mutex> l(mu_);
    auto thisRunDone = [&] { return stopping_ || answeredThisRun_ >= n_ - resumeFrom_; };
    if (!cv_.wait_until(l, deadline, thisRunDone) || stopping_) return;
    auto grace = std::min(deadline, Clock::now() + std::chrono::milliseconds(o_.graceMs));
    cv_.wait_until(l, grace, [&] { return stopping_ || distinct_ >= n_; });
  }

  // Asks for a Logout and waits for the session to end; false if it did not end in time.
  bool logout(Clock::time_point deadline) {
    FIX::Session* s = nullptr;
    {
      std::lock_guard<std::mutex> g(mu_);
      stopping_ = true;
      s = loggedOn_ ? session_ : nullptr;
      cv_.notify_all();
    }
    if (s == nullptr) return true;
    s->logout();
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_until(l, deadline, [&] { return !loggedOn_; });
  }

  void requestStop() {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
    cv_.notify_all();
  }

  bool stopRequested() {
    std::lock_guard<std::mutex> g(mu_);
    return stopping_;
  }

  // Stops without a Logout: quiesce our senders so that the state file names exactly the orders
  // handed to QuickFIX, write it, and leave without running any destructor (no Logout, no close
  // handshake beyond what the kernel does for a dying process).
  void abruptExit(const char* why) {
    // Before stopping_: the main thread, released by it, must not go on to a graceful Logout.
    aborting_.store(true, std::memory_order_release);
    std::string lines;
    {
      std::unique_lock<std::mutex> l(mu_);
      stopping_ = true;
      cv_.wait_for(l, std::chrono::seconds(2), [&] { return inSend_ == 0; });
    }
    // Reports of orders already sent are on their way: QuickFIX commits a report's number before
    // fromApp records it, so exiting while one is in fromApp would lose it for good. No new order
    // leaves now; let the answers in flight land (the counterparty answers in microseconds).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    {
      std::unique_lock<std::mutex> l(mu_);
      lines = summaryLocked(true);
      saveStateLocked();
    }
    std::fprintf(stderr, "qf_peer: %s: exiting without Logout\n", why);
    emit(o_, lines);
    std::_Exit(EXIT_OK);
  }

  // A signal is taking the process down without Logout (--on-term abrupt).
  bool aborting() const { return aborting_.load(std::memory_order_acquire); }

  // --- results ---

  std::string summary() {
    std::lock_guard<std::mutex> g(mu_);
    return summaryLocked(false);
  }

  void saveState() {
    std::lock_guard<std::mutex> g(mu_);
    saveStateLocked();
  }

  bool success() {
    std::lock_guard<std::mutex> g(mu_);
    // Send failures are not failures here: QuickFIX stores an order it could not send and resends
    // it on the peer's ResendRequest; only a report that never came (or came twice) is.
    return sent_ == n_ && distinct_ == n_ && duplicates_ == 0 && mismatched_ == 0 &&
           unexpected_ == 0;
  }

  long sentCount() {
    std::lock_guard<std::mutex> g(mu_);
    return sent_;
  }

  void setThroughputSent(long n) {
    std::lock_guard<std::mutex> g(mu_);
    sent_ = n;
  }

 private:
  static std::string qtyOf(long id) { return std::to_string(100 + id % 900); }
  static char sideOf(long id) { return id % 2 == 1 ? '1' : '2'; }

  bool echoMatches(const FIX::Message& m, long id) const {
    return m.isSetField(FIX::FIELD::Symbol) && m.getField(FIX::FIELD::Symbol) == o_.symbol &&
           m.isSetField(FIX::FIELD::Side) &&
           m.getField(FIX::FIELD::Side) == std::string(1, sideOf(id)) &&
           m.isSetField(FIX::FIELD::OrderQty) && m.getField(FIX::FIELD::OrderQty) == qtyOf(id);
  }

  bool sendOrder(FIX::Session* s, long id) {
    FIX::ClOrdID cl(std::to_string(id));
    FIX::Side side(sideOf(id));
    FIX::OrdType type(FIX::OrdType_LIMIT);
    std::string qty = qtyOf(id);
    try {
      switch (ver_) {
        case Ver::FIX42: {
          FIX42::NewOrderSingle m(cl, FIX::HandlInst('1'), FIX::Symbol(o_.symbol), side,
                                  FIX::TransactTime(3), type);
          m.setField(FIX::FIELD::OrderQty, qty);
          m.setField(FIX::Price(101.25));
          return s->send(m);
        }
        case Ver::FIX44: {
          FIX44::NewOrderSingle m(cl, side, FIX::TransactTime(3), type);
          m.setField(FIX::Symbol(o_.symbol));
          m.setField(FIX::FIELD::OrderQty, qty);
          m.setField(FIX::Price(101.25));
          return s->send(m);
        }
        case Ver::FIX50SP2: {
          FIX50SP2::NewOrderSingle m(cl, side, FIX::TransactTime(3), type);
          m.setField(FIX::Symbol(o_.symbol));
          m.setField(FIX::FIELD::OrderQty, qty);
          m.setField(FIX::Price(101.25));
          return s->send(m);
        }
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "qf_peer: send of order %ld failed: %s\n", id, e.what());
    }
    return false;
  }

  std::string summaryLocked(bool aborted) const {
    std::ostringstream out;
    if (o_.mode == "orders") {
      long answeredSent = 0;
      for (long i = 1; i <= sent_ && i <= n_; ++i) answeredSent += answered_[static_cast<size_t>(i)];
      out << "orders_sent=" << sent_ << " reports_received=" << distinct_
          << " duplicates=" << duplicates_ << " missing=" << (sent_ - answeredSent)
          << " unsent=" << (n_ - sent_) << " possdup_repeats=" << possdupRepeats_
          << " mismatched=" << mismatched_ << " unexpected=" << unexpected_
          << " reports_total=" << reportsTotal_;
    } else {
      out << "throughput_sent=" << sent_;
    }
    out << " send_failures=" << sendFailures_ << " logons=" << logons_
        << " resend_requests_sent=" << resendRequestsSent_.load()
        << " resend_requests_received=" << resendRequestsReceived_.load()
        << " seq_resets_received=" << seqResetsReceived_.load()
        << " reset_logons_sent=" << resetLogonsSent_.load()
        << " session_rejects_received=" << sessionRejectsReceived_.load()
        << " session_rejects_sent=" << sessionRejectsSent_.load()
        << " aborted=" << (aborted ? 1 : 0) << "\n";
    if (o_.latency && o_.mode == "orders") {
      std::vector<int64_t> v(latencies_);
      std::sort(v.begin(), v.end());
      auto pct = [&](double q) -> double {
        if (v.empty()) return 0.0;
        size_t rank = static_cast<size_t>(q * static_cast<double>(v.size()) + 0.999999);
        rank = std::max<size_t>(1, std::min(rank, v.size()));
        return static_cast<double>(v[rank - 1]) / 1000.0;
      };
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "rtt_samples=%zu rtt_us_p50=%.1f rtt_us_p99=%.1f rtt_us_p999=%.1f "
                    "rtt_us_max=%.1f\n",
                    v.size(), pct(0.50), pct(0.99), pct(0.999), v.empty() ? 0.0 : v.back() / 1e3);
      out << buf;
    }
    return out.str();
  }

  void saveStateLocked() const {
    if (o_.state.empty() || o_.mode != "orders") return;
    std::ostringstream out;
    out << "orders=" << n_ << "\nsent=" << sent_ << "\nduplicates=" << duplicates_
        << "\npossdup_repeats=" << possdupRepeats_ << "\nmismatched=" << mismatched_
        << "\nunexpected=" << unexpected_ << "\nreports_total=" << reportsTotal_ << "\nanswered=";
    for (long i = 1; i <= n_; ++i) out << (answered_[static_cast<size_t>(i)] ? '1' : '0');
    out << "\n";
    if (!writeFileAtomically(o_.state, out.str())) {
      std::fprintf(stderr, "qf_peer: cannot write state %s: %s\n", o_.state.c_str(),
                   std::strerror(errno));
    }
  }

  const Options& o_;
  const long n_;
  const bool ordersMode_ = o_.mode == "orders";
  Ver ver_ = Ver::FIX44;

  std::mutex mu_;
  std::condition_variable cv_;
  FIX::Session* session_ = nullptr;
  bool loggedOn_ = false;
  bool stopping_ = false;
  std::atomic<bool> aborting_{false};
  long logons_ = 0;
  long logouts_ = 0;
  long nextId_ = 1;
  long resumeFrom_ = 0;
  long sent_ = 0;
  long inSend_ = 0;
  long distinct_ = 0;
  long answeredThisRun_ = 0;
  long duplicates_ = 0;
  long possdupRepeats_ = 0;
  long mismatched_ = 0;
  long unexpected_ = 0;
  long reportsTotal_ = 0;
  long sendFailures_ = 0;
  std::vector<uint8_t> answered_;
  std::unique_ptr<std::atomic<int64_t>[]> sendNs_;
  std::vector<int64_t> latencies_;

  std::atomic<long> resendRequestsSent_{0};
  std::atomic<long> resendRequestsReceived_{0};
  std::atomic<long> seqResetsReceived_{0};
  std::atomic<long> resetLogonsSent_{0};
  std::atomic<long> sessionRejectsReceived_{0};
  std::atomic<long> sessionRejectsSent_{0};
  std::atomic<long> otherApp_{0};
};

int runInitiator(const Options& o, const FIX::SessionSettings& settings, const sigset_t& sigs) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(o.timeoutS);
  OrderSender app(o);
  if (!o.state.empty() && !app.loadState()) return EXIT_USAGE;
  if (o.stopAfter > 0 && app.sentCount() >= o.stopAfter) {
    std::fprintf(stderr, "qf_peer: --stop-after %ld already reached by the state file\n",
                 o.stopAfter);
    return EXIT_USAGE;
  }

  startSignalThread(sigs, [&app, &o](int) {
    if (o.onTerm == "abrupt") app.abruptExit("signal");
    app.requestStop();
  });

  std::unique_ptr<FIX::MessageStoreFactory> store = makeStoreFactory(o, settings);
  std::unique_ptr<FIX::LogFactory> log;
  if (!o.logDir.empty()) log.reset(new FIX::FileLogFactory(o.logDir));
  std::unique_ptr<FIX::Initiator> initiator;
  if (log) {
    initiator.reset(new FIX::ThreadedSocketInitiator(app, *store, settings, *log));
  } else {
    initiator.reset(new FIX::ThreadedSocketInitiator(app, *store, settings));
  }
  initiator->start();

  int rc = EXIT_OK;
  // From here: loading a large dictionary (FIX50SP2.xml takes seconds) is not the peer's delay.
  Clock::time_point logonBy = Clock::now() + std::chrono::seconds(o.logonTimeoutS);
  if (!app.waitLogon(std::min(deadline, logonBy))) {
    std::fprintf(stderr, "qf_peer: no Logon within %lds\n", o.logonTimeoutS);
    initiator->stop(true);
    emit(o, app.summary());
    return EXIT_TIMEOUT;
  }

  if (o.mode == "orders") {
    if (o.rate > 0.0) {
      app.pacedSend(deadline);
    } else {
      for (long k = 0; k < o.window; ++k) {
        if (!app.sendOne()) break;
      }
    }
    app.waitAnswers(deadline);
  } else {
    Clock::time_point sendStart = Clock::now();
    Clock::time_point end = std::min(deadline, sendStart + std::chrono::seconds(o.durationS));
    long n = 0;
    // The clock is read once per 64 orders: cheap enough not to count, fine-grained enough.
    while (n < o.orders && !app.stopRequested()) {
      if ((n & 63) == 0 && Clock::now() >= end) break;
      if (!app.sendThroughputOrder(n + 1)) break;
      ++n;
    }
    double secs = std::chrono::duration<double>(Clock::now() - sendStart).count();
    app.setThroughputSent(n);
    std::fprintf(stdout, "throughput_send_secs=%.3f throughput_send_per_s=%.0f\n", secs,
                 secs > 0 ? n / secs : 0.0);
  }
  // The signal thread is exiting without Logout: a graceful stop here would race it and send
  // one (seen in CI: the acceptor then reset its numbers). Wait for its _Exit, bounded.
  for (int i = 0; i < 100 && app.aborting(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (app.aborting()) std::_Exit(EXIT_TIMEOUT);
  bool timedOut = Clock::now() >= deadline;

  // QuickFIX sends the Logout from its connection thread's next timer tick (about a second).
  bool loggedOut = app.logout(std::min(deadline, Clock::now() + std::chrono::seconds(5)) +
                              std::chrono::seconds(timedOut ? 2 : 0));
  initiator->stop(true);
  std::string s = app.summary();
  app.saveState();
  emit(o, s);
  if (!loggedOut) std::fprintf(stderr, "qf_peer: Logout not confirmed in time\n");
  if (o.mode == "orders" && !app.success()) rc = timedOut ? EXIT_TIMEOUT : EXIT_CHECK_FAILED;
  if (o.mode == "throughput" && app.sentCount() == 0) rc = EXIT_CHECK_FAILED;
  return rc;
}

// ---------------------------------------------------------------------------------------------
// Acceptor
// ---------------------------------------------------------------------------------------------

class Executor : public FIX::Application {
 public:
  explicit Executor(const Options& o) : o_(o) {}

  void onCreate(const FIX::SessionID& id) override {
    Ver v;
    if (!versionOf(id, &v)) {
      std::fprintf(stderr, "qf_peer: unsupported BeginString %s\n", id.getBeginString().getString().c_str());
      std::_Exit(EXIT_USAGE);
    }
  }
  void onLogon(const FIX::SessionID&) override {
    std::lock_guard<std::mutex> g(mu_);
    ++logons_;
    cv_.notify_all();
  }
  void onLogout(const FIX::SessionID&) override {
    std::lock_guard<std::mutex> g(mu_);
    ++logouts_;
    cv_.notify_all();
  }
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {
    const std::string& t = m.getHeader().getField(FIX::FIELD::MsgType);
    if (t == "2") resendRequestsReceived_.fetch_add(1);
    if (t == "A" && m.isSetField(FIX::FIELD::ResetSeqNumFlag) &&
        m.getField(FIX::FIELD::ResetSeqNumFlag) == "Y") {
      resetLogonsReceived_.fetch_add(1);
      // A reset starts a new order stream: ClOrdIDs may repeat without being duplicates.
      std::lock_guard<std::mutex> g(mu_);
      std::fill(seen_.begin(), seen_.end(), 0);
    }
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID& sid) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    // An abrupt stop happens here, between messages: QuickFIX has committed the incoming number
    // of the previous order, whose report is sent, and this order is neither answered nor
    // committed, so it comes back as a resend after the restart and is answered exactly once.
    if (abort_.load(std::memory_order_acquire)) exitNow();
    int64_t t = nowNs();
    if (m.getHeader().getField(FIX::FIELD::MsgType) != "D") throw FIX::UnsupportedMessageType();
    const FIX::Header& h = m.getHeader();
    bool possDup = (h.isSetField(FIX::FIELD::PossDupFlag) &&
                    h.getField(FIX::FIELD::PossDupFlag) == "Y") ||
                   (h.isSetField(FIX::FIELD::PossResend) &&
                    h.getField(FIX::FIELD::PossResend) == "Y");
    const std::string& cl = m.getField(FIX::FIELD::ClOrdID);
    long id = 0;
    bool numeric = parseLong(cl.c_str(), 1, MAX_ACCEPTOR_IDS, &id);
    long n = 0;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (received_ == 0) firstNs_ = t;
      lastNs_ = t;
      n = ++received_;
      if (numeric) {
        if (seen_.size() <= static_cast<size_t>(id)) {
          // Grows geometrically and only up to MAX_ACCEPTOR_IDS entries.
          size_t doubled = std::min(seen_.size() * 2, static_cast<size_t>(MAX_ACCEPTOR_IDS) + 1);
          seen_.resize(std::max(static_cast<size_t>(id) + 1, doubled), 0);
        }
        if (seen_[static_cast<size_t>(id)] != 0) {
          if (possDup) {
            ++possdupDropped_;
            return;  // already answered: a resent order must not execute twice
          }
          ++duplicates_;
        } else {
          seen_[static_cast<size_t>(id)] = 1;
          ++distinct_;
        }
      } else {
        ++nonNumeric_;
      }
    }
    if (o_.noReply || (numeric && id == o_.drop)) return;
    reply(m, sid, n);
    if (numeric && id == o_.answerTwice && !possDup) reply(m, sid, n);
  }

  bool waitLogoutOrStop(Clock::time_point deadline) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_until(l, deadline, [&] {
      return stop_ || (o_.exitAfterLogout && logons_ > 0 && logouts_ >= logons_);
    });
  }

  void requestStop() {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
    cv_.notify_all();
  }

  // Called on the signal thread: asks the connection thread to exit at the next order, and exits
  // from here if none arrives soon (then no order is being processed).
  [[noreturn]] void abruptExit() {
    abort_.store(true, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    exitNow();
  }

  [[noreturn]] void exitNow() {
    // Whichever thread comes first writes the report; the other must not write it again.
    static std::atomic<bool> once{false};
    if (!once.exchange(true)) {
      std::fprintf(stderr, "qf_peer: signal: exiting without Logout\n");
      emit(o_, summary(true));
      std::_Exit(EXIT_OK);
    }
    // The first caller is exiting: this one only needs not to return.
    std::this_thread::sleep_for(std::chrono::seconds(5));
    std::_Exit(EXIT_OK);
  }

  std::string summary(bool aborted) {
    std::lock_guard<std::mutex> g(mu_);
    double span = received_ > 1 ? static_cast<double>(lastNs_ - firstNs_) / 1e9 : 0.0;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "orders_received=%ld distinct=%ld duplicates=%ld possdup_dropped=%ld "
                  "non_numeric=%ld logons=%ld logouts=%ld resend_requests_received=%ld "
                  "reset_logons_received=%ld recv_span_s=%.6f recv_msgs_per_s=%.0f aborted=%d\n",
                  received_, distinct_, duplicates_, possdupDropped_, nonNumeric_, logons_,
                  logouts_, resendRequestsReceived_.load(), resetLogonsReceived_.load(), span,
                  span > 0 ? static_cast<double>(received_ - 1) / span : 0.0, aborted ? 1 : 0);
    return buf;
  }

 private:
  void reply(const FIX::Message& m, const FIX::SessionID& sid, long n) {
    Ver v = Ver::FIX44;
    versionOf(sid, &v);
    FIX::OrderID orderId("O" + std::to_string(n));
    FIX::ExecID execId("E" + std::to_string(n));
    FIX::OrdStatus status(FIX::OrdStatus_FILLED);
    FIX::Side side(m.getField(FIX::FIELD::Side)[0]);
    const std::string& qty = m.getField(FIX::FIELD::OrderQty);
    std::string px = m.isSetField(FIX::FIELD::Price) ? m.getField(FIX::FIELD::Price) : "0";
    // Echoed values are copied as strings: byte for byte, whatever the peer's number format.
    auto echo = [&](FIX::Message& er) {
      er.setField(FIX::FIELD::ClOrdID, m.getField(FIX::FIELD::ClOrdID));
      er.setField(FIX::FIELD::Symbol, m.getField(FIX::FIELD::Symbol));
      er.setField(FIX::FIELD::OrderQty, qty);
      er.setField(FIX::FIELD::CumQty, qty);
      er.setField(FIX::FIELD::AvgPx, px);
      er.setField(FIX::FIELD::LastPx, px);
    };
    switch (v) {
      case Ver::FIX42: {
        FIX42::ExecutionReport er(orderId, execId, FIX::ExecTransType('0'),
                                  FIX::ExecType(FIX::ExecType_FILL), status,
                                  FIX::Symbol(m.getField(FIX::FIELD::Symbol)), side,
                                  FIX::LeavesQty(0), FIX::CumQty(0), FIX::AvgPx(0));
        echo(er);
        er.setField(FIX::FIELD::LastShares, qty);
        FIX::Session::sendToTarget(er, sid);
        break;
      }
      case Ver::FIX44: {
        FIX44::ExecutionReport er(orderId, execId, FIX::ExecType(FIX::ExecType_TRADE), status,
                                  side, FIX::LeavesQty(0), FIX::CumQty(0), FIX::AvgPx(0));
        echo(er);
        er.setField(FIX::FIELD::LastQty, qty);
        FIX::Session::sendToTarget(er, sid);
        break;
      }
      case Ver::FIX50SP2: {
        FIX50SP2::ExecutionReport er(orderId, execId, FIX::ExecType(FIX::ExecType_TRADE), status,
                                     side, FIX::LeavesQty(0), FIX::CumQty(0));
        echo(er);
        er.setField(FIX::FIELD::LastQty, qty);
        FIX::Session::sendToTarget(er, sid);
        break;
      }
    }
  }

  const Options& o_;
  std::atomic<bool> abort_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  long logons_ = 0;
  long logouts_ = 0;
  long received_ = 0;
  long distinct_ = 0;
  long duplicates_ = 0;
  long possdupDropped_ = 0;
  long nonNumeric_ = 0;
  int64_t firstNs_ = 0;
  int64_t lastNs_ = 0;
  std::vector<uint8_t> seen_;
  std::atomic<long> resendRequestsReceived_{0};
  std::atomic<long> resetLogonsReceived_{0};
};

int runAcceptor(const Options& o, const FIX::SessionSettings& settings, const sigset_t& sigs) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(o.timeoutS);
  Executor app(o);
  startSignalThread(sigs, [&app, &o](int) {
    if (o.onTerm == "abrupt") app.abruptExit();
    app.requestStop();
  });
  std::unique_ptr<FIX::MessageStoreFactory> store = makeStoreFactory(o, settings);
  std::unique_ptr<FIX::LogFactory> log;
  if (!o.logDir.empty()) log.reset(new FIX::FileLogFactory(o.logDir));
  std::unique_ptr<FIX::Acceptor> acceptor;
  if (log) {
    acceptor.reset(new FIX::ThreadedSocketAcceptor(app, *store, settings, *log));
  } else {
    acceptor.reset(new FIX::ThreadedSocketAcceptor(app, *store, settings));
  }
  acceptor->start();
  if (!o.readyFile.empty() && !writeFileAtomically(o.readyFile, "ready\n")) {
    std::fprintf(stderr, "qf_peer: cannot write %s\n", o.readyFile.c_str());
  }
  std::fprintf(stderr, "qf_peer: acceptor listening\n");
  bool done = app.waitLogoutOrStop(deadline);
  // stop(false) logs every session out and waits (QuickFIX bounds that wait at 10 s).
  acceptor->stop(false);
  emit(o, app.summary(false));
  if (!done) {
    std::fprintf(stderr, "qf_peer: acceptor timed out after %lds\n", o.timeoutS);
    return EXIT_TIMEOUT;
  }
  return EXIT_OK;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parseArgs(argc, argv, &o)) return EXIT_USAGE;
  // Before any thread exists, so every QuickFIX thread inherits the mask.
  sigset_t sigs;
  blockTermSignals(&sigs);
  try {
    FIX::SessionSettings settings(o.settings);
    if (o.role == "initiator") return runInitiator(o, settings, sigs);
    return runAcceptor(o, settings, sigs);
  } catch (const FIX::ConfigError& e) {
    std::fprintf(stderr, "qf_peer: configuration error: %s\n", e.what());
    return EXIT_USAGE;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qf_peer: %s\n", e.what());
    return EXIT_QUICKFIX;
  }
}
