// qf_codec_bench: the QuickFIX C++ side of our codec benchmark (benches/benches/codec.rs).
//
// Receive: parse the exact bytes of benches/data/nos44.fix (FIX.4.4 NewOrderSingle) into a
// FIX::Message with the FIX.4.4 DataDictionary, and validate it with that dictionary - what a
// QuickFIX session does with every application message it receives.
// Send: build a FIX44::ExecutionReport like benches/data/er44.fix with QuickFIX's message classes
// (header, SendingTime formatted from a timestamp, body) and serialise it with toString() - what a
// QuickFIX application and session do for every message sent.
//
// Each figure is the median over several batches of the mean ns/message within a batch, after a
// warm-up, timed with std::chrono::steady_clock. Our own code linking QuickFIX; nothing copied
// from QuickFIX's sources.
//
//   qf_codec_bench [--iters N] [--batches B] [--spec DIR] [--data DIR]
// prints
//   qf_parse_ns=<median> qf_encode_ns=<median>
//   qf_parse_noval_ns=<median> qf_encode_matches_er44=<0|1> iters=<N> batches=<B>

#include <quickfix/DataDictionary.h>
#include <quickfix/Exceptions.h>
#include <quickfix/Message.h>
#include <quickfix/fix44/ExecutionReport.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

volatile size_t g_sink = 0;  // keeps the optimiser from dropping the measured work

bool readFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

// Median over `batches` of the mean ns per call of `op` over `iters` calls.
double medianNs(long iters, long batches, const std::function<size_t(long)>& op) {
  for (long i = 0; i < iters; ++i) g_sink = g_sink + op(i);  // warm-up
  std::vector<double> per;
  per.reserve(static_cast<size_t>(batches));
  long k = 0;
  for (long b = 0; b < batches; ++b) {
    size_t acc = 0;
    auto t0 = Clock::now();
    for (long i = 0; i < iters; ++i) acc += op(k++);
    auto t1 = Clock::now();
    g_sink = g_sink + acc;
    per.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                  static_cast<double>(iters));
  }
  std::sort(per.begin(), per.end());
  return per[per.size() / 2];
}

bool parseCount(const char* s, long lo, long hi, long* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

// The ExecutionReport of benches/data/er44.fix, with MsgSeqNum `seq`.
std::string encodeEr(int seq, const FIX::UtcTimeStamp& sendingTime) {
  FIX44::ExecutionReport er(FIX::OrderID("BRK-0000001"), FIX::ExecID("EXEC-000000001"),
                            FIX::ExecType(FIX::ExecType_TRADE), FIX::OrdStatus(FIX::OrdStatus_FILLED),
                            FIX::Side(FIX::Side_BUY), FIX::LeavesQty(0), FIX::CumQty(100),
                            FIX::AvgPx(101.25));
  FIX::Header& h = er.getHeader();
  h.setField(FIX::MsgSeqNum(seq));
  h.setField(FIX::SenderCompID("BROKER01"));
  h.setField(FIX::TargetCompID("CLIENT01"));
  h.setField(FIX::SendingTime(sendingTime, 3));
  er.setField(FIX::ClOrdID("ORD-000000001"));
  er.setField(FIX::LastPx(101.25));
  er.setField(FIX::LastQty(100));
  er.setField(FIX::OrderQty(100));
  er.setField(FIX::Symbol("MSFT"));
  return er.toString();
}

}  // namespace

int main(int argc, char** argv) {
  long iters = 20000;
  long batches = 15;
  std::string spec = "spec";
  std::string data = "benches/data";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool hasValue = i + 1 < argc;
    if (a == "--iters" && hasValue && parseCount(argv[i + 1], 1, 100000000, &iters)) {
      ++i;
    } else if (a == "--batches" && hasValue && parseCount(argv[i + 1], 1, 1001, &batches)) {
      ++i;
    } else if (a == "--spec" && hasValue) {
      spec = argv[++i];
    } else if (a == "--data" && hasValue) {
      data = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: qf_codec_bench [--iters N] [--batches B] [--spec DIR] [--data DIR]\n"
                   "(run from the repository root, or point --spec/--data at spec/, "
                   "benches/data/)\n");
      return 2;
    }
  }

  std::string nos;
  std::string er44;
  if (!readFile(data + "/nos44.fix", &nos) || !readFile(data + "/er44.fix", &er44)) {
    std::fprintf(stderr, "qf_codec_bench: cannot read %s/nos44.fix or er44.fix\n", data.c_str());
    return 2;
  }
  try {
    FIX::DataDictionary dd(spec + "/FIX44.xml");

    // Check once, outside the timing, that the workload does what it claims.
    {
      FIX::Message m(nos, dd, true);
      dd.validate(m);
      // (QuickFIX re-serialises the body in tag order, so the bytes are not compared.)
      if (m.getField(FIX::FIELD::ClOrdID) != "ORD-000000001" ||
          m.getField(FIX::FIELD::TransactTime) != "20261123-10:15:30.120" ||
          m.getHeader().getField(FIX::FIELD::MsgSeqNum) != "1234") {
        std::fprintf(stderr, "qf_codec_bench: nos44.fix parsed to unexpected values\n");
        return 1;
      }
    }
    FIX::UtcTimeStamp sendingTime(10, 15, 30, 125, 23, 11, 2026);
    bool matches = encodeEr(1234, sendingTime) == er44;
    if (!matches) {
      std::fprintf(stderr, "qf_codec_bench: note: QuickFIX's ER differs from er44.fix:\n%s\n",
                   encodeEr(1234, sendingTime).c_str());
    }

    double parseNs = medianNs(iters, batches, [&](long) {
      FIX::Message m(nos, dd, true);
      dd.validate(m);
      return m.getHeader().getField(FIX::FIELD::MsgSeqNum).size();
    });
    double parseNoValNs = medianNs(iters, batches, [&](long) {
      FIX::Message m(nos, dd, true);
      return m.getHeader().getField(FIX::FIELD::MsgSeqNum).size();
    });
    // MsgSeqNum stays 4 digits, as in er44.fix, so every message has the same length.
    double encodeNs = medianNs(iters, batches, [&](long i) {
      return encodeEr(1000 + static_cast<int>(i % 9000), sendingTime).size();
    });

    std::printf("qf_parse_ns=%.0f qf_encode_ns=%.0f\n", parseNs, encodeNs);
    std::printf("qf_parse_noval_ns=%.0f qf_encode_matches_er44=%d iters=%ld batches=%ld\n",
                parseNoValNs, matches ? 1 : 0, iters, batches);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qf_codec_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
