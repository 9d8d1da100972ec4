// Simulation models of the two ECP5 primitives yosys's ecp5/cells_sim.v lacks (MULT18X18D has
// no model, DP16KD is a blackbox), for the gate-level regression (fpga/gatelevel.py).
//
// They model only the configurations synth_ecp5 writes: the multiplier with every register
// bypassed (mul2dsp + dsp_map_18x18.v), the block RAM with DATA_WIDTH 9 or 18, no output
// register and the clock not inverted (brams_map_16kd.v). Any other configuration stops the
// simulation at time 0 ($fatal), so a netlist these models cannot run bit-true is refused, not
// simulated wrongly. The RAM follows the data sheet's port rules (TN1264): x18 addresses words
// with AD[13:4] and takes byte enables from AD[1:0], x9 addresses half-words with AD[13:3]; a
// write updates DO as WRITEMODE says (NORMAL: holds, WRITETHROUGH: new data, READBEFOREWRITE:
// old data); RST clears DO. INITVAL_xx holds 16 words of 18 bits, each in a 20-bit slot.
// Written for Verilator.

`timescale 1ns / 1ps

module MULT18X18D(
  input A0,
  input A1,
  input A2,
  input A3,
  input A4,
  input A5,
  input A6,
  input A7,
  input A8,
  input A9,
  input A10,
  input A11,
  input A12,
  input A13,
  input A14,
  input A15,
  input A16,
  input A17,
  input B0,
  input B1,
  input B2,
  input B3,
  input B4,
  input B5,
  input B6,
  input B7,
  input B8,
  input B9,
  input B10,
  input B11,
  input B12,
  input B13,
  input B14,
  input B15,
  input B16,
  input B17,
  input C0,
  input C1,
  input C2,
  input C3,
  input C4,
  input C5,
  input C6,
  input C7,
  input C8,
  input C9,
  input C10,
  input C11,
  input C12,
  input C13,
  input C14,
  input C15,
  input C16,
  input C17,
  input SIGNEDA,
  input SIGNEDB,
  input SOURCEA,
  input SOURCEB,
  input CLK0,
  input CLK1,
  input CLK2,
  input CLK3,
  input CE0,
  input CE1,
  input CE2,
  input CE3,
  input RST0,
  input RST1,
  input RST2,
  input RST3,
  input SRIA0,
  input SRIA1,
  input SRIA2,
  input SRIA3,
  input SRIA4,
  input SRIA5,
  input SRIA6,
  input SRIA7,
  input SRIA8,
  input SRIA9,
  input SRIA10,
  input SRIA11,
  input SRIA12,
  input SRIA13,
  input SRIA14,
  input SRIA15,
  input SRIA16,
  input SRIA17,
  input SRIB0,
  input SRIB1,
  input SRIB2,
  input SRIB3,
  input SRIB4,
  input SRIB5,
  input SRIB6,
  input SRIB7,
  input SRIB8,
  input SRIB9,
  input SRIB10,
  input SRIB11,
  input SRIB12,
  input SRIB13,
  input SRIB14,
  input SRIB15,
  input SRIB16,
  input SRIB17,
  output SROA0,
  output SROA1,
  output SROA2,
  output SROA3,
  output SROA4,
  output SROA5,
  output SROA6,
  output SROA7,
  output SROA8,
  output SROA9,
  output SROA10,
  output SROA11,
  output SROA12,
  output SROA13,
  output SROA14,
  output SROA15,
  output SROA16,
  output SROA17,
  output SROB0,
  output SROB1,
  output SROB2,
  output SROB3,
  output SROB4,
  output SROB5,
  output SROB6,
  output SROB7,
  output SROB8,
  output SROB9,
  output SROB10,
  output SROB11,
  output SROB12,
  output SROB13,
  output SROB14,
  output SROB15,
  output SROB16,
  output SROB17,
  output ROA0,
  output ROA1,
  output ROA2,
  output ROA3,
  output ROA4,
  output ROA5,
  output ROA6,
  output ROA7,
  output ROA8,
  output ROA9,
  output ROA10,
  output ROA11,
  output ROA12,
  output ROA13,
  output ROA14,
  output ROA15,
  output ROA16,
  output ROA17,
  output ROB0,
  output ROB1,
  output ROB2,
  output ROB3,
  output ROB4,
  output ROB5,
  output ROB6,
  output ROB7,
  output ROB8,
  output ROB9,
  output ROB10,
  output ROB11,
  output ROB12,
  output ROB13,
  output ROB14,
  output ROB15,
  output ROB16,
  output ROB17,
  output ROC0,
  output ROC1,
  output ROC2,
  output ROC3,
  output ROC4,
  output ROC5,
  output ROC6,
  output ROC7,
  output ROC8,
  output ROC9,
  output ROC10,
  output ROC11,
  output ROC12,
  output ROC13,
  output ROC14,
  output ROC15,
  output ROC16,
  output ROC17,
  output P0,
  output P1,
  output P2,
  output P3,
  output P4,
  output P5,
  output P6,
  output P7,
  output P8,
  output P9,
  output P10,
  output P11,
  output P12,
  output P13,
  output P14,
  output P15,
  output P16,
  output P17,
  output P18,
  output P19,
  output P20,
  output P21,
  output P22,
  output P23,
  output P24,
  output P25,
  output P26,
  output P27,
  output P28,
  output P29,
  output P30,
  output P31,
  output P32,
  output P33,
  output P34,
  output P35,
  output SIGNEDP
);
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTA_CE = "CE0";
  parameter REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTB_CE = "CE0";
  parameter REG_INPUTB_RST = "RST0";
  parameter REG_INPUTC_CLK = "NONE";
  parameter REG_INPUTC_CE = "CE0";
  parameter REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_PIPELINE_CE = "CE0";
  parameter REG_PIPELINE_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter REG_OUTPUT_CE = "CE0";
  parameter REG_OUTPUT_RST = "RST0";
  parameter CLK0_DIV = "ENABLED";
  parameter CLK1_DIV = "ENABLED";
  parameter CLK2_DIV = "ENABLED";
  parameter CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE";
  parameter GSR = "ENABLED";
  parameter CAS_MATCH_REG = "FALSE";
  parameter SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED";
  parameter RESETMODE = "SYNC";
  wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  wire [17:0] c = {C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0};
  // Each operand is signed or unsigned as its SIGNED pin says: widen by one bit accordingly.
  wire signed [37:0] product = $signed({SIGNEDA & a[17], a}) * $signed({SIGNEDB & b[17], b});
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = product[35:0];
  assign SIGNEDP = SIGNEDA | SIGNEDB;
  assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = a;
  assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = b;
  assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = c;
  assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = 18'h0;
  assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = 18'h0;
  initial begin
    if (REG_INPUTA_CLK != "NONE" || REG_INPUTB_CLK != "NONE" || REG_INPUTC_CLK != "NONE"
        || REG_PIPELINE_CLK != "NONE" || REG_OUTPUT_CLK != "NONE" || MULT_BYPASS != "DISABLED")
      $fatal(1, "MULT18X18D model: only the all-bypassed multiplier is modelled");
  end
  always @* if (SOURCEA || SOURCEB)
    $fatal(1, "MULT18X18D model: SOURCEA/SOURCEB (shift cascade) are not modelled");
endmodule

module DP16KD(
  input DIA0,
  input DIA1,
  input DIA2,
  input DIA3,
  input DIA4,
  input DIA5,
  input DIA6,
  input DIA7,
  input DIA8,
  input DIA9,
  input DIA10,
  input DIA11,
  input DIA12,
  input DIA13,
  input DIA14,
  input DIA15,
  input DIA16,
  input DIA17,
  input ADA0,
  input ADA1,
  input ADA2,
  input ADA3,
  input ADA4,
  input ADA5,
  input ADA6,
  input ADA7,
  input ADA8,
  input ADA9,
  input ADA10,
  input ADA11,
  input ADA12,
  input ADA13,
  input CEA,
  input OCEA,
  input CLKA,
  input WEA,
  input RSTA,
  input CSA0,
  input CSA1,
  input CSA2,
  output DOA0,
  output DOA1,
  output DOA2,
  output DOA3,
  output DOA4,
  output DOA5,
  output DOA6,
  output DOA7,
  output DOA8,
  output DOA9,
  output DOA10,
  output DOA11,
  output DOA12,
  output DOA13,
  output DOA14,
  output DOA15,
  output DOA16,
  output DOA17,
  input DIB0,
  input DIB1,
  input DIB2,
  input DIB3,
  input DIB4,
  input DIB5,
  input DIB6,
  input DIB7,
  input DIB8,
  input DIB9,
  input DIB10,
  input DIB11,
  input DIB12,
  input DIB13,
  input DIB14,
  input DIB15,
  input DIB16,
  input DIB17,
  input ADB0,
  input ADB1,
  input ADB2,
  input ADB3,
  input ADB4,
  input ADB5,
  input ADB6,
  input ADB7,
  input ADB8,
  input ADB9,
  input ADB10,
  input ADB11,
  input ADB12,
  input ADB13,
  input CEB,
  input OCEB,
  input CLKB,
  input WEB,
  input RSTB,
  input CSB0,
  input CSB1,
  input CSB2,
  output DOB0,
  output DOB1,
  output DOB2,
  output DOB3,
  output DOB4,
  output DOB5,
  output DOB6,
  output DOB7,
  output DOB8,
  output DOB9,
  output DOB10,
  output DOB11,
  output DOB12,
  output DOB13,
  output DOB14,
  output DOB15,
  output DOB16,
  output DOB17
);
  parameter DATA_WIDTH_A = 18;
  parameter REGMODE_A = "NOREG";
  parameter CSDECODE_A = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter CLKAMUX = "CLKA";
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_B = "NOREG";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_B = "NORMAL";
  parameter CLKBMUX = "CLKB";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter GSR = "ENABLED";
  parameter [319:0] INITVAL_00 = 320'h0;
  parameter [319:0] INITVAL_01 = 320'h0;
  parameter [319:0] INITVAL_02 = 320'h0;
  parameter [319:0] INITVAL_03 = 320'h0;
  parameter [319:0] INITVAL_04 = 320'h0;
  parameter [319:0] INITVAL_05 = 320'h0;
  parameter [319:0] INITVAL_06 = 320'h0;
  parameter [319:0] INITVAL_07 = 320'h0;
  parameter [319:0] INITVAL_08 = 320'h0;
  parameter [319:0] INITVAL_09 = 320'h0;
  parameter [319:0] INITVAL_0A = 320'h0;
  parameter [319:0] INITVAL_0B = 320'h0;
  parameter [319:0] INITVAL_0C = 320'h0;
  parameter [319:0] INITVAL_0D = 320'h0;
  parameter [319:0] INITVAL_0E = 320'h0;
  parameter [319:0] INITVAL_0F = 320'h0;
  parameter [319:0] INITVAL_10 = 320'h0;
  parameter [319:0] INITVAL_11 = 320'h0;
  parameter [319:0] INITVAL_12 = 320'h0;
  parameter [319:0] INITVAL_13 = 320'h0;
  parameter [319:0] INITVAL_14 = 320'h0;
  parameter [319:0] INITVAL_15 = 320'h0;
  parameter [319:0] INITVAL_16 = 320'h0;
  parameter [319:0] INITVAL_17 = 320'h0;
  parameter [319:0] INITVAL_18 = 320'h0;
  parameter [319:0] INITVAL_19 = 320'h0;
  parameter [319:0] INITVAL_1A = 320'h0;
  parameter [319:0] INITVAL_1B = 320'h0;
  parameter [319:0] INITVAL_1C = 320'h0;
  parameter [319:0] INITVAL_1D = 320'h0;
  parameter [319:0] INITVAL_1E = 320'h0;
  parameter [319:0] INITVAL_1F = 320'h0;
  parameter [319:0] INITVAL_20 = 320'h0;
  parameter [319:0] INITVAL_21 = 320'h0;
  parameter [319:0] INITVAL_22 = 320'h0;
  parameter [319:0] INITVAL_23 = 320'h0;
  parameter [319:0] INITVAL_24 = 320'h0;
  parameter [319:0] INITVAL_25 = 320'h0;
  parameter [319:0] INITVAL_26 = 320'h0;
  parameter [319:0] INITVAL_27 = 320'h0;
  parameter [319:0] INITVAL_28 = 320'h0;
  parameter [319:0] INITVAL_29 = 320'h0;
  parameter [319:0] INITVAL_2A = 320'h0;
  parameter [319:0] INITVAL_2B = 320'h0;
  parameter [319:0] INITVAL_2C = 320'h0;
  parameter [319:0] INITVAL_2D = 320'h0;
  parameter [319:0] INITVAL_2E = 320'h0;
  parameter [319:0] INITVAL_2F = 320'h0;
  parameter [319:0] INITVAL_30 = 320'h0;
  parameter [319:0] INITVAL_31 = 320'h0;
  parameter [319:0] INITVAL_32 = 320'h0;
  parameter [319:0] INITVAL_33 = 320'h0;
  parameter [319:0] INITVAL_34 = 320'h0;
  parameter [319:0] INITVAL_35 = 320'h0;
  parameter [319:0] INITVAL_36 = 320'h0;
  parameter [319:0] INITVAL_37 = 320'h0;
  parameter [319:0] INITVAL_38 = 320'h0;
  parameter [319:0] INITVAL_39 = 320'h0;
  parameter [319:0] INITVAL_3A = 320'h0;
  parameter [319:0] INITVAL_3B = 320'h0;
  parameter [319:0] INITVAL_3C = 320'h0;
  parameter [319:0] INITVAL_3D = 320'h0;
  parameter [319:0] INITVAL_3E = 320'h0;
  parameter [319:0] INITVAL_3F = 320'h0;

  reg [17:0] mem [0:1023];
  integer k;
  initial begin
    for (k = 0; k < 16; k = k + 1) mem[0 + k] = INITVAL_00[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[16 + k] = INITVAL_01[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[32 + k] = INITVAL_02[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[48 + k] = INITVAL_03[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[64 + k] = INITVAL_04[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[80 + k] = INITVAL_05[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[96 + k] = INITVAL_06[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[112 + k] = INITVAL_07[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[128 + k] = INITVAL_08[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[144 + k] = INITVAL_09[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[160 + k] = INITVAL_0A[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[176 + k] = INITVAL_0B[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[192 + k] = INITVAL_0C[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[208 + k] = INITVAL_0D[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[224 + k] = INITVAL_0E[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[240 + k] = INITVAL_0F[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[256 + k] = INITVAL_10[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[272 + k] = INITVAL_11[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[288 + k] = INITVAL_12[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[304 + k] = INITVAL_13[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[320 + k] = INITVAL_14[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[336 + k] = INITVAL_15[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[352 + k] = INITVAL_16[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[368 + k] = INITVAL_17[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[384 + k] = INITVAL_18[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[400 + k] = INITVAL_19[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[416 + k] = INITVAL_1A[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[432 + k] = INITVAL_1B[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[448 + k] = INITVAL_1C[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[464 + k] = INITVAL_1D[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[480 + k] = INITVAL_1E[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[496 + k] = INITVAL_1F[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[512 + k] = INITVAL_20[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[528 + k] = INITVAL_21[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[544 + k] = INITVAL_22[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[560 + k] = INITVAL_23[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[576 + k] = INITVAL_24[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[592 + k] = INITVAL_25[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[608 + k] = INITVAL_26[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[624 + k] = INITVAL_27[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[640 + k] = INITVAL_28[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[656 + k] = INITVAL_29[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[672 + k] = INITVAL_2A[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[688 + k] = INITVAL_2B[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[704 + k] = INITVAL_2C[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[720 + k] = INITVAL_2D[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[736 + k] = INITVAL_2E[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[752 + k] = INITVAL_2F[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[768 + k] = INITVAL_30[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[784 + k] = INITVAL_31[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[800 + k] = INITVAL_32[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[816 + k] = INITVAL_33[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[832 + k] = INITVAL_34[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[848 + k] = INITVAL_35[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[864 + k] = INITVAL_36[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[880 + k] = INITVAL_37[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[896 + k] = INITVAL_38[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[912 + k] = INITVAL_39[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[928 + k] = INITVAL_3A[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[944 + k] = INITVAL_3B[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[960 + k] = INITVAL_3C[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[976 + k] = INITVAL_3D[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[992 + k] = INITVAL_3E[k * 20 +: 18];
    for (k = 0; k < 16; k = k + 1) mem[1008 + k] = INITVAL_3F[k * 20 +: 18];
  end

  // ---- port A
  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [2:0] csa = {CSA2, CSA1, CSA0};
  // "0bXYZ": the last three characters, whose low bits are the chip-select bits.
  wire [2:0] csdecode_a = {CSDECODE_A[16], CSDECODE_A[8], CSDECODE_A[0]};
  reg [17:0] doa = 18'h0;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  wire [9:0] word_a = ada[13:4];
  wire high_a = ada[3];
  wire [17:0] old_a = mem[word_a];
  // The word after this port's write (x18: bytes enabled by AD[1:0]; x9: the addressed half).
  wire [17:0] new_a = DATA_WIDTH_A == 18
      ? {ada[1] ? dia[17:9] : old_a[17:9],
         ada[0] ? dia[8:0] : old_a[8:0]}
      : (high_a ? {dia[8:0], old_a[8:0]}
                 : {old_a[17:9], dia[8:0]});
  // What DO shows of a word: x18 all of it, x9 the addressed half on DO[8:0].
  function [17:0] shown_a(input [17:0] word);
    shown_a = DATA_WIDTH_A == 18 ? word
        : {9'h0, high_a ? word[17:9] : word[8:0]};
  endfunction
  wire sel_a = CEA && csa == csdecode_a;
  wire rst_a = RSTA;
  initial begin
    if ((DATA_WIDTH_A != 9 && DATA_WIDTH_A != 18) || REGMODE_A != "NOREG"
        || CLKAMUX != "CLKA")
      $fatal(1, "DP16KD model: port A supports DATA_WIDTH 9/18, REGMODE NOREG, CLKAMUX CLKA");
    if (WRITEMODE_A != "NORMAL" && WRITEMODE_A != "WRITETHROUGH"
        && WRITEMODE_A != "READBEFOREWRITE")
      $fatal(1, "DP16KD model: unknown WRITEMODE_A");
  end
  task automatic clock_a;
    if (rst_a) doa <= 18'h0;
    else if (sel_a) begin
      if (WEA) begin
        mem[word_a] <= new_a;
        if (WRITEMODE_A == "WRITETHROUGH") doa <= shown_a(new_a);
        else if (WRITEMODE_A == "READBEFOREWRITE")
          doa <= shown_a(old_a);
      end else doa <= shown_a(old_a);
    end
  endtask
  generate if (RESETMODE == "ASYNC") begin : async_a
    always @(posedge CLKA or posedge RSTA) clock_a;
  end else begin : sync_a
    always @(posedge CLKA) clock_a;
  end endgenerate

  // ---- port B
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
  wire [2:0] csb = {CSB2, CSB1, CSB0};
  // "0bXYZ": the last three characters, whose low bits are the chip-select bits.
  wire [2:0] csdecode_b = {CSDECODE_B[16], CSDECODE_B[8], CSDECODE_B[0]};
  reg [17:0] dob = 18'h0;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
  wire [9:0] word_b = adb[13:4];
  wire high_b = adb[3];
  wire [17:0] old_b = mem[word_b];
  // The word after this port's write (x18: bytes enabled by AD[1:0]; x9: the addressed half).
  wire [17:0] new_b = DATA_WIDTH_B == 18
      ? {adb[1] ? dib[17:9] : old_b[17:9],
         adb[0] ? dib[8:0] : old_b[8:0]}
      : (high_b ? {dib[8:0], old_b[8:0]}
                 : {old_b[17:9], dib[8:0]});
  // What DO shows of a word: x18 all of it, x9 the addressed half on DO[8:0].
  function [17:0] shown_b(input [17:0] word);
    shown_b = DATA_WIDTH_B == 18 ? word
        : {9'h0, high_b ? word[17:9] : word[8:0]};
  endfunction
  wire sel_b = CEB && csb == csdecode_b;
  wire rst_b = RSTB;
  initial begin
    if ((DATA_WIDTH_B != 9 && DATA_WIDTH_B != 18) || REGMODE_B != "NOREG"
        || CLKBMUX != "CLKB")
      $fatal(1, "DP16KD model: port B supports DATA_WIDTH 9/18, REGMODE NOREG, CLKBMUX CLKB");
    if (WRITEMODE_B != "NORMAL" && WRITEMODE_B != "WRITETHROUGH"
        && WRITEMODE_B != "READBEFOREWRITE")
      $fatal(1, "DP16KD model: unknown WRITEMODE_B");
  end
  task automatic clock_b;
    if (rst_b) dob <= 18'h0;
    else if (sel_b) begin
      if (WEB) begin
        mem[word_b] <= new_b;
        if (WRITEMODE_B == "WRITETHROUGH") dob <= shown_b(new_b);
        else if (WRITEMODE_B == "READBEFOREWRITE")
          dob <= shown_b(old_b);
      end else dob <= shown_b(old_b);
    end
  endtask
  generate if (RESETMODE == "ASYNC") begin : async_b
    always @(posedge CLKB or posedge RSTB) clock_b;
  end else begin : sync_b
    always @(posedge CLKB) clock_b;
  end endgenerate

endmodule
