using System.Security.Cryptography;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Kernels;

namespace Rnn.Simd.Tests.Determinism;

/// <summary>
/// The determinism contract (DESIGN.md §4) pinned to constants: products and activations over fixed, seeded
/// inputs hash to the same SHA-256 at every vector width and thread count. CI runs this under
/// DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and DOTNET_EnableHWIntrinsic=0 against the same constant.
/// </summary>
[Trait("Category", "Determinism")]
[Trait("Isa", "All")]
public sealed class KernelDeterminismTests
{
    /// <summary>
    /// SHA-256 of the GEMM results below. Change it only with a deliberate change of the kernels' arithmetic,
    /// and say so in the commit: every user's numerical regression tests move with it.
    /// </summary>
    private const string GemmHash = "0086711C6E33A8BAB114835EF6DE9C931F0227CAA13D08DADFA96BE0880BDBE5";

    private static readonly (int M, int N, int K)[] s_shapes =
        [(1, 1, 1), (1, 2048, 512), (2, 33, 17), (7, 129, 300), (16, 512, 256), (64, 1031, 65), (129, 31, 257), (300, 70, 600)];

    [Fact]
    public void GemmResults_HashToTheCommittedConstant_OnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        string single = HashGemm(null);
        string dual = HashGemm(team);
        Assert.Equal(single, dual);
        Assert.True(GemmHash == single, $"GEMM hash {single}, expected {GemmHash}.");
    }

    /// <summary>SHA-256 of every activation kernel's output on fixed inputs with special values mixed in.</summary>
    private const string ActivationHash = "62D8A2F55FDAD9D84C327EDAC4963352B69EB130B5E2D695D89F2E60FB72C0F1";

    [Fact]
    public void ActivationResults_HashToTheCommittedConstant()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        float[] x = ActivationTestKit.MixedInputs(4099, seed: 2024);
        float[] dy = ActivationTestKit.MixedInputs(4099, seed: 2025);
        var y = new float[x.Length];
        var dx = new float[x.Length];

        Activations.Exp(x, y);
        BitHash.Append(hash, y);
        foreach (ActivationKind kind in Enum.GetValues<ActivationKind>())
        {
            Activations.Forward(kind, x, y);
            BitHash.Append(hash, y);
            Activations.Backward(kind, y, dy, dx);
            BitHash.Append(hash, dx);
            Activations.BackwardAdd(kind, y, dy, dx);
            BitHash.Append(hash, dx);
        }

        // Rows of 95 in a stride of 97; inputs clamped so that most rows are finite (NaN/±inf rows are covered too).
        float[] moderate = [.. x.Select(v => float.IsFinite(v) ? Math.Clamp(v, -50f, 50f) : v)];
        Activations.SoftmaxRows(moderate, 97, y, 97, 40, 95);
        BitHash.Append(hash, y);
        Activations.SoftmaxRowsBackward(y, 97, dy, 97, dx, 97, 40, 95);
        BitHash.Append(hash, dx);
        Activations.LogSoftmaxRows(moderate, 97, y, 97, 40, 95);
        BitHash.Append(hash, y);
        Activations.LogSoftmaxRowsBackward(y, 97, dy, 97, dx, 97, 40, 95);
        BitHash.Append(hash, dx);

        string actual = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(ActivationHash == actual, $"Activation hash {actual}, expected {ActivationHash}.");
    }

    private static string HashGemm(ThreadTeam? team)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new TestRandom(2024);
        foreach ((int m, int n, int k) in s_shapes)
        {
            float[] a = random.Array(m * k), b = random.Array(n * k), c0 = random.Array(m * n, -4f, 4f);
            float[] c = new float[m * n];

            Gemm.MultiplyABt(m, n, k, a, k, b, k, c, n, accumulate: false, team);
            BitHash.Append(hash, c);

            c0.CopyTo(c, 0);
            Gemm.MultiplyAB(m, n, k, a, k, b, n, c, n, accumulate: true, team);
            BitHash.Append(hash, c);

            Gemm.MultiplyAtB(m, n, k, a, m, b, n, c, n, accumulate: false, team);
            BitHash.Append(hash, c);

            c0.CopyTo(c, 0);
            Gemm.MultiplyPacked(m, a, k, PackedMatrix.FromRowsAsColumns(b, n, k, k), c, n, accumulate: true, team);
            BitHash.Append(hash, c);

            Gemm.MultiplyPacked(1, a, k, PackedMatrix.FromRowsAsColumns(b, n, k, k), c, n, accumulate: false, team);
            BitHash.Append(hash, c.AsSpan(0, n));
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
