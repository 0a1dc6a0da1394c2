// Bench wrapper: the three floating-point blocks of the halut RTL side by side, so one build
// checks them all (they are combinational).
module tb_fp_units (
  input  logic [31:0] add_a_i,
  input  logic [31:0] add_b_i,
  output logic [31:0] add_y_o,
  input  logic [15:0] conv_a_i,
  output logic [31:0] conv_y_o,
  input  logic [15:0] gt_a_i,
  input  logic [15:0] gt_b_i,
  output logic        gt_o
);

  halut_fp32_add i_add (
    .a_i(add_a_i),
    .b_i(add_b_i),
    .y_o(add_y_o)
  );

  halut_fp16_to_fp32 i_conv (
    .a_i(conv_a_i),
    .y_o(conv_y_o)
  );

  halut_fp16_gt i_gt (
    .a_i (gt_a_i),
    .b_i (gt_b_i),
    .gt_o(gt_o)
  );

endmodule
