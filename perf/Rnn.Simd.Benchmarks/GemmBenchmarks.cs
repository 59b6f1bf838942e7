using BenchmarkDotNet.Attributes;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Benchmarks;

/// <summary>A product shape C[M, N] = A[M, K] · op(B).</summary>
public readonly record struct GemmShape(int M, int N, int K)
{
    public override string ToString() => $"{M}x{N}x{K}";
}

/// <summary>
/// GEMM at RNN shapes: M = batch (or T·B for the input projection), N = gates·H, K = input or hidden size.
/// Every variant is checked against a double-precision reference before it is timed.
/// </summary>
public class GemmBenchmarks : IThroughput
{
    private float[] _a = [], _b = [], _bkn = [], _c = [];
    private PackedMatrix? _packed;
    private ThreadTeam? _team;

    /// <summary>
    /// M ∈ {16, 64, 3200} × N ∈ {1024, 2048, 4096} × K ∈ {256, 512, 1024}, an odd N = 6·512+7 and 1024³ (M = 1 is
    /// <see cref="GemvBenchmarks"/>). RNN_BENCH_QUICK=1 keeps a representative handful.
    /// </summary>
    public static IEnumerable<GemmShape> Shapes()
    {
        if (Environment.GetEnvironmentVariable("RNN_BENCH_QUICK") == "1")
        {
            return [new(16, 2048, 512), new(64, 2048, 1024), new(64, (6 * 512) + 7, 512), new(3200, 2048, 512), new(1024, 1024, 1024)];
        }

        return AllShapes();
    }

    private static IEnumerable<GemmShape> AllShapes()
    {
        foreach (int m in new[] { 16, 64, 3200 })
        {
            foreach (int n in new[] { 1024, 2048, 4096 })
            {
                foreach (int k in new[] { 256, 512, 1024 })
                {
                    yield return new GemmShape(m, n, k);
                }
            }
        }

        yield return new GemmShape(64, (6 * 512) + 7, 512);
        yield return new GemmShape(1024, 1024, 1024);
    }

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    public double Flops => 2.0 * Shape.M * Shape.N * Shape.K;

    public double Bytes => 0;

    [GlobalSetup]
    public void Setup()
    {
        (int m, int n, int k) = (Shape.M, Shape.N, Shape.K);
        var random = new Random(7);
        _a = Fill(random, m * k);
        _b = Fill(random, n * k);
        _bkn = Fill(random, k * n);
        _c = new float[m * n];
        _packed = PackedMatrix.FromRowsAsColumns(_b, n, k, k);
        _team = Threads > 1 ? new ThreadTeam(Threads) : null;
        OpenBlas.SetThreadsIfAvailable(Threads);

        PackedWeights();
        Verify.Product(_a, _b, _c, m, n, k, transB: true, "packed A·Wᵀ");
        UnpackedABt();
        Verify.Product(_a, _b, _c, m, n, k, transB: true, "A·Bᵀ");
        UnpackedAB();
        Verify.Product(_a, _bkn, _c, m, n, k, transB: false, "A·B");
    }

    [GlobalCleanup]
    public void Cleanup() => _team?.Dispose();

    /// <summary>The forward input projection: weights packed once at load.</summary>
    [Benchmark(Baseline = true)]
    public void PackedWeights() => Gemm.MultiplyPacked(Shape.M, _a, Shape.K, _packed!, _c, Shape.N, accumulate: false, _team);

    /// <summary>A·Bᵀ with B packed on the fly (activations on both sides).</summary>
    [Benchmark]
    public void UnpackedABt() => Gemm.MultiplyABt(Shape.M, Shape.N, Shape.K, _a, Shape.K, _b, Shape.K, _c, Shape.N, accumulate: false, _team);

    /// <summary>A·B: the input-gradient product of BPTT (dX = dG · W).</summary>
    [Benchmark]
    public void UnpackedAB() => Gemm.MultiplyAB(Shape.M, Shape.N, Shape.K, _a, Shape.K, _bkn, Shape.N, _c, Shape.N, accumulate: false, _team);

    /// <summary>OpenBLAS sgemm on the same A·Bᵀ, same thread count.</summary>
    [Benchmark]
    public void OpenBlasSgemm() => OpenBlas.SgemmABt(Shape.M, Shape.N, Shape.K, _a, _b, _c);

    internal static float[] Fill(Random random, int length)
    {
        var data = new float[length];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return data;
    }
}
