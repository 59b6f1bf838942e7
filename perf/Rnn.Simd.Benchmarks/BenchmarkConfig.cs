using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;

namespace Rnn.Simd.Benchmarks;

/// <summary>The suite's configuration: MemoryDiagnoser always, a GFLOP/s column, and one job per ISA on request.</summary>
internal static class BenchmarkConfig
{
    /// <summary>
    /// Takes the suite's own options: <c>--isa all</c> (a job per ISA switch), <c>--isa fma</c> (the paths without
    /// hardware FMA, with and without Determinism.SameMachine, against the AVX2 path), <c>--isa separate</c> (only
    /// those with it) and <c>--short</c> (every job a short run).
    /// </summary>
    public static (string[] Remaining, string? Isas, bool Short) TakeOwnOptions(string[] args)
    {
        var rest = new List<string>();
        string? isas = null;
        bool shortRun = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--isa" && i + 1 < args.Length)
            {
                isas = args[++i];
                continue;
            }

            if (args[i] == "--short")
            {
                shortRun = true;
                continue;
            }

            rest.Add(args[i]);
        }

        return (rest.ToArray(), isas, shortRun);
    }

    /// <param name="isas">"all": add a job per instruction-set switch; "fma": the AVX2 path as the baseline, then AVX without
    /// AVX2 (<c>DOTNET_EnableAVX2=0</c>) and scalar each fused (emulated) and separate (RNN_SIMD_DETERMINISM=SameMachine),
    /// and SSE alone (<c>DOTNET_EnableAVX=0</c>) separate; "separate": the same without the (slow) fused jobs.</param>
    /// <param name="jobFromCommandLine">The user passed --job: use that job instead of the default one.</param>
    /// <param name="shortRun">Every job (the best width's and the ISA switches') is BenchmarkDotNet's short run.</param>
    public static IConfig Create(string? isas, bool jobFromCommandLine, bool shortRun)
    {
        ManualConfig config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(new ThroughputColumn())
            .WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared))
            .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(30));

        Job job = shortRun ? Job.ShortRun : Job.Default;
        if (isas is "fma" or "separate")
        {
            // Without AVX2 (and so without FMA) .NET keeps AVX: the opt-in's products run 256 bits wide there
            // (MicroKernelAvx); without AVX, on SSE alone; without any intrinsics, scalar.
            var avx2 = new EnvironmentVariable("DOTNET_EnableAVX512", "0");
            var avx = new EnvironmentVariable("DOTNET_EnableAVX2", "0");
            var sse = new EnvironmentVariable("DOTNET_EnableAVX", "0");
            var scalar = new EnvironmentVariable("DOTNET_EnableHWIntrinsic", "0");
            var separate = new EnvironmentVariable("RNN_SIMD_DETERMINISM", "SameMachine");
            bool fused = isas == "fma";
            config.AddJob(job.WithId("avx2").WithEnvironmentVariables(avx2).AsBaseline());
            if (fused)
            {
                config.AddJob(job.WithId("avx-fused").WithEnvironmentVariables(avx));
            }

            config.AddJob(job.WithId("avx-separate").WithEnvironmentVariables(avx, separate));
            config.AddJob(job.WithId("sse-separate").WithEnvironmentVariables(sse, separate));
            if (fused)
            {
                config.AddJob(job.WithId("scalar-fused").WithEnvironmentVariables(scalar));
            }

            config.AddJob(job.WithId("scalar-separate").WithEnvironmentVariables(scalar, separate));
            return config;
        }

        if (!jobFromCommandLine)
        {
            config.AddJob(job.WithId("best-width").AsBaseline());
        }

        if (isas == "all")
        {
            config.AddJob(job.WithId("avx512-off").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX512", "0")));
            config.AddJob(job.WithId("avx2-off").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX2", "0")));
            config.AddJob(job.WithId("scalar").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableHWIntrinsic", "0")));
        }

        return config;
    }
}
