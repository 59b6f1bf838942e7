using BenchmarkDotNet.Running;

namespace Rnn.Simd.Benchmarks;

/// <summary>
/// BenchmarkDotNet switcher. Examples:
/// <code>
///   dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*Gemm*'
///   dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*Gemv*' --isa all
///   dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*OnnxBenchmarks*' --short --exporters github
/// </code>
/// <c>OnnxBenchmarks</c> times ONNX Runtime's C# API (the speed peer, in-process) against OnnxRecurrentLayer and
/// RecurrentNetwork on the same models (perf/results/onnx-runtime.md).
/// <c>--isa all</c> adds one job per instruction-set switch (DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0,
/// DOTNET_EnableHWIntrinsic=0); the default is the machine's best width only. <c>--isa fma</c> times the paths
/// without hardware FMA, fused (emulated) and separate (Determinism.SameMachine), against the AVX2 path
/// (perf/results/threads-and-fma.md); <c>--isa separate</c> only the separate ones (AVX without AVX2, SSE alone, scalar). RNN_BENCH_ROWS narrows the rows (a ';'-separated list of names such as
/// "lstm H=256 B=1 T=1"). <c>--short</c> makes every job a
/// short run (3 warm-ups, 3 iterations); the exported per-ISA tables in perf/results/bdn were made with it:
/// <code>
///   RNN_BENCH_THREADS=1 dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*StepBenchmarks*' '*TrainingBenchmarks*' --isa all --short --artifacts perf/results/bdn --exporters github
/// </code>
/// </summary>
internal static class Program
{
    private static void Main(string[] args)
    {
        (string[] rest, string? isas, bool shortRun) = BenchmarkConfig.TakeOwnOptions(args);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, BenchmarkConfig.Create(isas, rest.Contains("--job") || rest.Contains("-j"), shortRun));
    }
}
