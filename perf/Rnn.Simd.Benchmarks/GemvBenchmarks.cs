using BenchmarkDotNet.Attributes;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Benchmarks;

/// <summary>
/// The batch-1 path (one streaming time step): y[N] = W[N, K] · x with W packed once. Memory-bound: the
/// GB/s column is the packed weights streamed per call (N=1024, K=512 is the 2 MiB row of the issue).
/// </summary>
public class GemvBenchmarks : IThroughput
{
    private float[] _w = [], _x = [], _y = [];
    private PackedMatrix? _packed;
    private ThreadTeam? _team;

    public static IEnumerable<GemmShape> Shapes() =>
    [
        new(1, 512, 256), new(1, 1024, 512), new(1, 2048, 1024), new(1, 4096, 2048), new(1, 4096, 1024), new(1, (6 * 512) + 7, 512),
    ];

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    public double Flops => 2.0 * Shape.N * Shape.K;

    public double Bytes => 4.0 * Shape.N * Shape.K;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        _w = GemmBenchmarks.Fill(random, Shape.N * Shape.K);
        _x = GemmBenchmarks.Fill(random, Shape.K);
        _y = new float[Shape.N];
        _packed = PackedMatrix.FromRowsAsColumns(_w, Shape.N, Shape.K, Shape.K);
        _team = Threads > 1 ? new ThreadTeam(Threads) : null;
        OpenBlas.SetThreadsIfAvailable(Threads);
        PackedGemv();
        Verify.Product(_x, _w, _y, 1, Shape.N, Shape.K, transB: true, "packed batch-1");
    }

    [GlobalCleanup]
    public void Cleanup() => _team?.Dispose();

    [Benchmark(Baseline = true)]
    public void PackedGemv() => Gemm.MultiplyPacked(1, _x, Shape.K, _packed!, _y, Shape.N, accumulate: false, _team);

    /// <summary>OpenBLAS sgemv on the same row-major W, same thread count.</summary>
    [Benchmark]
    public void OpenBlasSgemv() => OpenBlas.Sgemv(Shape.N, Shape.K, _w, _x, _y);
}
