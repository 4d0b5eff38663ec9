// hls_stream_shim.h: hls::stream for plain g++ C simulation (no Xilinx headers needed).
//
// Under Vitis HLS (__SYNTHESIS__ or DSE_HAVE_HLS_STREAM) the real <hls_stream.h> is used.
// Elsewhere a stream is an unbounded FIFO, as in Vitis's own C simulation: the depth
// pragmas size the hardware FIFOs and do not change the values that flow. Reading an
// empty stream is a deadlock in hardware; here it aborts with the stream's name.
#ifndef HLS_STREAM_SHIM_H
#define HLS_STREAM_SHIM_H

#if defined(__SYNTHESIS__) || defined(DSE_HAVE_HLS_STREAM)
#include <hls_stream.h>
#else
#include <cstdio>
#include <cstdlib>
#include <deque>

namespace hls {
template <typename T>
class stream {
  public:
    explicit stream(const char* name = "stream") : name_(name) {}
    void write(const T& v) { q_.push_back(v); }
    T read() {
        if (q_.empty()) {
            std::fprintf(stderr, "hls::stream %s read while empty (deadlock)\n", name_);
            std::abort();
        }
        T v = q_.front();
        q_.pop_front();
        return v;
    }
    bool empty() const { return q_.empty(); }
    std::size_t size() const { return q_.size(); }

  private:
    const char* name_;
    std::deque<T> q_;
};
}  // namespace hls
#endif
#endif  // HLS_STREAM_SHIM_H
