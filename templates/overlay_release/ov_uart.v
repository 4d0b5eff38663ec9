// 8N1 UART receiver and transmitter, CPB clock cycles per bit (clock / baud).
module ov_uart_rx #(parameter CPB = 217) (
    input  wire       clk,
    input  wire       rst,
    input  wire       rx,
    output reg        valid,   // one cycle: data holds a received byte
    output reg  [7:0] data
);
    reg [1:0] sync;            // two flops: rx is asynchronous to clk
    reg [15:0] cnt;
    reg [3:0] bitn;
    reg active;
    wire s = sync[1];
    always @(posedge clk) begin
        sync <= {sync[0], rx};
        valid <= 0;
        if (rst) begin
            sync <= 2'b11;
            active <= 0;
        end else if (!active) begin
            if (!s) begin      // start bit edge: sample mid-bit from here
                active <= 1;
                cnt <= CPB[15:0] / 16'd2;
                bitn <= 0;
            end
        end else if (cnt != 0) begin
            cnt <= cnt - 16'd1;
        end else begin
            cnt <= CPB[15:0] - 16'd1;
            bitn <= bitn + 4'd1;
            if (bitn == 0) begin
                if (s) active <= 0;            // a glitch, not a start bit
            end else if (bitn <= 8) begin
                data <= {s, data[7:1]};         // LSB first
            end else begin
                active <= 0;
                valid <= s;                    // stop bit high: a good frame
            end
        end
    end
endmodule

module ov_uart_tx #(parameter CPB = 217) (
    input  wire       clk,
    input  wire       rst,
    input  wire       start,   // one cycle, only while !busy
    input  wire [7:0] data,
    output wire       busy,
    output wire       tx
);
    reg [9:0] sh;              // stop, data[7:0], start
    reg [3:0] left;
    reg [15:0] cnt;
    assign busy = left != 0;
    assign tx = busy ? sh[0] : 1'b1;
    always @(posedge clk) begin
        if (rst) begin
            left <= 0;
        end else if (!busy) begin
            if (start) begin
                sh <= {1'b1, data, 1'b0};
                left <= 4'd10;
                cnt <= CPB[15:0] - 16'd1;
            end
        end else if (cnt != 0) begin
            cnt <= cnt - 16'd1;
        end else begin
            cnt <= CPB[15:0] - 16'd1;
            sh <= {1'b1, sh[9:1]};
            left <= left - 4'd1;
        end
    end
endmodule
