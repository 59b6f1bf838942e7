using BenchmarkDotNet.Running;

namespace Rnn.Simd.Benchmarks;

/// <summary>
/// BenchmarkDotNet switcher. Examples:
/// <code>
///   dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*Gemm*'
///   dotnet run -c Release --project perf/Rnn.Simd.Benchmarks -- --filter '*Gemv*' --isa all
/// </code>
/// <c>--isa all</c> adds one job per instruction-set switch (DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0,
/// DOTNET_EnableHWIntrinsic=0); the default is the machine's best width only.
/// </summary>
internal static class Program
{
    private static void Main(string[] args)
    {
        (string[] rest, bool allIsas) = BenchmarkConfig.TakeIsaOption(args);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, BenchmarkConfig.Create(allIsas, rest.Contains("--job") || rest.Contains("-j")));
    }
}
