// Verilator harness of a released UART top (the overlay's overlay_uart_top or the spatial
// family's sp_uart_top, whichever this build verilated): the board's UART wire, bridged to
// this process's stdin (bytes the host sends, driven onto uart_rx at CPB clocks per bit) and
// stdout (bytes decoded from uart_tx). Usage: V<top> CPB [LINGER]
// On end of stdin it stops once uart_tx has been idle LINGER cycles (0: at once).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <unistd.h>

#if __has_include("Voverlay_uart_top.h")
#include "Voverlay_uart_top.h"
typedef Voverlay_uart_top Top;
#else
#include "Vsp_uart_top.h"
typedef Vsp_uart_top Top;
#endif
#include "verilated.h"

// A board has booted (reset, program copied into the core) long before a host talks to it.
static const uint64_t BOOT_CYCLES = 20000;

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s CPB [LINGER]\n", argv[0]); return 2; }
    const int cpb = atoi(argv[1]);
    const uint64_t linger = argc > 2 ? strtoull(argv[2], nullptr, 10) : 0;
    if (cpb < 4) { fprintf(stderr, "CPB must be >= 4\n"); return 2; }
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    Top* top = new Top;
    std::deque<uint8_t> in;
    bool eof = false;
    int drv_bit = -1;          // bit of the frame being driven, -1 idle
    int drv_cnt = 0;
    uint16_t frame = 0;
    int dec_state = 0;         // 0 idle, 1 receiving
    int dec_cnt = 0, dec_bits = 0;
    uint8_t dec_byte = 0;
    uint64_t now = 0, idle = 0;
    top->uart_rx = 1;
    top->clk = 0;
    top->eval();
    for (;;) {
        if (drv_bit < 0 && in.empty() && !eof && (now & 255) == 0) {
            uint8_t buf[4096];
            ssize_t n = read(0, buf, sizeof buf);
            if (n > 0) in.insert(in.end(), buf, buf + n);
            else if (n == 0) eof = true;
        }
        if (drv_bit < 0 && !in.empty() && now >= BOOT_CYCLES) {
            frame = (uint16_t)((1u << 9) | ((unsigned)in.front() << 1));
            in.pop_front();
            drv_bit = 0;
            drv_cnt = cpb;
        }
        top->uart_rx = drv_bit < 0 ? 1 : (frame >> drv_bit) & 1;
        if (drv_bit >= 0 && --drv_cnt == 0) {
            drv_cnt = cpb;
            if (++drv_bit == 10) drv_bit = -1;
        }
        top->clk = 1;
        top->eval();
        top->clk = 0;
        top->eval();
        now++;
        const int tx = top->uart_tx;
        if (dec_state == 0) {
            if (!tx) { dec_state = 1; dec_cnt = cpb + cpb / 2; dec_bits = 0; dec_byte = 0; }
        } else if (--dec_cnt == 0) {
            if (dec_bits < 8) {
                dec_byte |= (uint8_t)(tx << dec_bits);
                dec_bits++;
                dec_cnt = dec_bits == 8 ? cpb / 2 + cpb / 4 : cpb;  // then into the stop bit
            } else {
                dec_state = 0;
                if (tx) {
                    ssize_t w = write(1, &dec_byte, 1);
                    (void)w;
                } else fprintf(stderr, "framing error on uart_tx at cycle %llu\n", (unsigned long long)now);
            }
        }
        idle = (dec_state == 0 && tx) ? idle + 1 : 0;
        if (eof && in.empty() && drv_bit < 0 && idle >= linger && now > BOOT_CYCLES) break;
    }
    fprintf(stderr, "cycles %llu\n", (unsigned long long)now);
    top->final();
    delete top;
    return 0;
}
