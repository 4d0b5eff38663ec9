// The AXI memory model of the overlay's Verilator harnesses (templates/overlay/sim_main.cpp
// for the core's five ports, templates/overlay_kernel/kernel_main.cpp for the kernel's
// masters): byte access into Verilator's port words, and a read channel served as a queue
// of bursts, each beginning `latency` cycles after its request and then delivered at `bpc`
// bytes per cycle (the channel's rate; 0: a beat every cycle), at most 8 bursts in flight.
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <type_traits>

// Verilator holds a port of up to 64 bits as an integer, a wider one as 32-bit words.
template <class T> static uint8_t get_byte(const T& v, int i) {
    if constexpr (std::is_integral_v<T>) return (uint8_t)((uint64_t)v >> (8 * i));
    else return (uint8_t)(v[i / 4] >> (8 * (i % 4)));
}
template <class T> static void put_byte(T& v, int i, uint8_t b) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t m = (uint64_t)0xff << (8 * i);
        v = (T)(((uint64_t)v & ~m) | ((uint64_t)b << (8 * i)));
    } else {
        uint32_t m = 0xffu << (8 * (i % 4));
        v[i / 4] = (v[i / 4] & ~m) | ((uint32_t)b << (8 * (i % 4)));
    }
}
template <class T> static uint32_t get_word(const T& v, int i) {
    if constexpr (std::is_integral_v<T>) return (uint32_t)((uint64_t)v >> (32 * i));
    else return v[i];
}
template <class T> static bool strobe(const T& s, int b) {
    if constexpr (std::is_integral_v<T>) return ((uint64_t)s >> b) & 1;
    else return (s[b / 32] >> (b % 32)) & 1;
}

struct ReadQueue {
    int latency = 40;
    double bpc = 0;      // bytes per cycle the channel delivers (0: one beat a cycle)
    double credit = 0;   // bytes the channel may deliver now
    uint64_t bytes = 0;  // bytes delivered so far
    struct Burst { uint64_t addr; int beats; uint64_t ready; };
    std::deque<Burst> q;

    bool accepts() const { return q.size() < 8; }
    // Once a cycle, before the edge: true when a beat is presented (at addr(), last()).
    bool present(uint64_t now, int beat) {
        double rate = bpc > 0 ? bpc : beat;
        credit = std::min(credit + rate, (double)beat + rate);
        return !q.empty() && q.front().ready <= now && credit >= beat;
    }
    uint64_t addr() const { return q.front().addr; }
    bool last() const { return q.front().beats == 1; }
    void request(uint64_t addr, int beats, uint64_t now) {
        q.push_back({addr, beats, now + (uint64_t)latency});
    }
    void take(int beat) {  // the presented beat was accepted
        credit -= beat;
        bytes += beat;
        q.front().addr += beat;
        if (--q.front().beats == 0) q.pop_front();
    }
};
