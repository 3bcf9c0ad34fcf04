#include "textflag.h"

// func dotsI8AVX2(codes *int8, q *int16, dim int, n int, out *int32)
//
// out[r] = Σ_d int32(codes[r*dim+d]) * int32(q[d]) for r < n; dim is a
// positive multiple of 16. Codes are sign-extended to int16 and multiplied
// pairwise with VPMADDWD into eight int32 lanes.
TEXT ·dotsI8AVX2(SB), NOSPLIT, $0-40
	MOVQ codes+0(FP), SI
	MOVQ q+8(FP), DX
	MOVQ dim+16(FP), CX
	MOVQ n+24(FP), BX
	MOVQ out+32(FP), DI
	TESTQ BX, BX
	JZ done

row:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	MOVQ DX, R8
	MOVQ CX, R9

loop32:
	CMPQ R9, $32
	JL tail16
	VPMOVSXBW (SI), Y2
	VPMOVSXBW 16(SI), Y3
	VPMADDWD (R8), Y2, Y2
	VPMADDWD 32(R8), Y3, Y3
	VPADDD Y2, Y0, Y0
	VPADDD Y3, Y1, Y1
	ADDQ $32, SI
	ADDQ $64, R8
	SUBQ $32, R9
	JMP loop32

tail16:
	TESTQ R9, R9
	JZ reduce
	VPMOVSXBW (SI), Y2
	VPMADDWD (R8), Y2, Y2
	VPADDD Y2, Y0, Y0
	ADDQ $16, SI

reduce:
	VPADDD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPADDD X1, X0, X0
	VMOVD X0, (DI)
	ADDQ $4, DI
	DECQ BX
	JNZ row

done:
	VZEROUPPER
	RET
