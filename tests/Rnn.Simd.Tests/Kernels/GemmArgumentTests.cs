using Rnn.Simd.Kernels.Gemm;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>Every argument error names its parameter.</summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed class GemmArgumentTests
{
    private static readonly float[] s_a = new float[6 * 4], s_b = new float[4 * 5], s_c = new float[6 * 5];

    public static TheoryData<string, Action> Cases() => new()
    {
        { "m", () => Gemm.MultiplyAB(-1, 5, 4, s_a, 4, s_b, 5, s_c, 5, false) },
        { "n", () => Gemm.MultiplyAB(6, -1, 4, s_a, 4, s_b, 5, s_c, 5, false) },
        { "k", () => Gemm.MultiplyAB(6, 5, -2, s_a, 4, s_b, 5, s_c, 5, false) },
        { "lda", () => Gemm.MultiplyAB(6, 5, 4, s_a, 3, s_b, 5, s_c, 5, false) },
        { "ldb", () => Gemm.MultiplyAB(6, 5, 4, s_a, 4, s_b, 4, s_c, 5, false) },
        { "ldc", () => Gemm.MultiplyAB(6, 5, 4, s_a, 4, s_b, 5, s_c, 4, false) },
        { "a", () => Gemm.MultiplyAB(7, 5, 4, s_a, 4, s_b, 5, new float[35], 5, false) },
        { "b", () => Gemm.MultiplyAB(6, 6, 4, s_a, 4, s_b, 6, new float[36], 6, false) },
        { "c", () => Gemm.MultiplyAB(6, 5, 4, s_a, 4, s_b, 5, new float[29], 5, false) },
        { "b", () => Gemm.MultiplyABt(6, 5, 4, s_a, 4, new float[19], 4, s_c, 5, false) },
        { "ldb", () => Gemm.MultiplyABt(6, 5, 4, s_a, 4, s_b, 3, s_c, 5, false) },
        { "a", () => Gemm.MultiplyAtB(6, 5, 4, new float[23], 6, s_b, 5, s_c, 5, false) },
        { "lda", () => Gemm.MultiplyAtB(6, 5, 4, s_a, 5, s_b, 5, s_c, 5, false) },
        { "b", () => Gemm.MultiplyPacked(6, s_a, 4, null!, s_c, 5, false) },
        { "a", () => Gemm.MultiplyPacked(6, new float[20], 4, PackedMatrix.FromRowsAsColumns(s_b, 5, 4, 4), s_c, 5, false) },
        { "c", () => Gemm.MultiplyPacked(6, s_a, 4, PackedMatrix.FromRowsAsColumns(s_b, 5, 4, 4), new float[10], 5, false) },
        { "m", () => Gemm.MultiplyPacked(-3, s_a, 4, PackedMatrix.FromRowsAsColumns(s_b, 5, 4, 4), s_c, 5, false) },
        { "ldw", () => PackedMatrix.FromRowsAsColumns(s_b, 5, 4, 3) },
        { "w", () => PackedMatrix.FromRowsAsColumns(s_b, 6, 4, 4) },
        { "n", () => PackedMatrix.FromMatrix(s_b, 4, -5, 5) },
        { "b", () => PackedMatrix.FromMatrix(s_b, 5, 5, 5) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void InvalidArguments_ThrowArgumentException_NamingTheParameter(string parameter, Action call)
    {
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(parameter, error.ParamName);
    }
}
