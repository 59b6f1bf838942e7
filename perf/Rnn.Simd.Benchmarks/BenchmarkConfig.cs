using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;

namespace Rnn.Simd.Benchmarks;

/// <summary>The suite's configuration: MemoryDiagnoser always, a GFLOP/s column, and one job per ISA on request.</summary>
internal static class BenchmarkConfig
{
    /// <summary>Takes the suite's own options: <c>--isa all</c> (a job per ISA switch) and <c>--short</c> (every job a short run).</summary>
    public static (string[] Remaining, bool AllIsas, bool Short) TakeOwnOptions(string[] args)
    {
        var rest = new List<string>();
        bool all = false, shortRun = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--isa" && i + 1 < args.Length)
            {
                all = args[++i] == "all";
                continue;
            }

            if (args[i] == "--short")
            {
                shortRun = true;
                continue;
            }

            rest.Add(args[i]);
        }

        return (rest.ToArray(), all, shortRun);
    }

    /// <param name="allIsas">Add a job per instruction-set switch.</param>
    /// <param name="jobFromCommandLine">The user passed --job: use that job instead of the default one.</param>
    /// <param name="shortRun">Every job (the best width's and the ISA switches') is BenchmarkDotNet's short run.</param>
    public static IConfig Create(bool allIsas, bool jobFromCommandLine, bool shortRun)
    {
        ManualConfig config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(new ThroughputColumn())
            .WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared))
            .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(30));

        Job job = shortRun ? Job.ShortRun : Job.Default;
        if (!jobFromCommandLine)
        {
            config.AddJob(job.WithId("best-width").AsBaseline());
        }

        if (allIsas)
        {
            config.AddJob(job.WithId("avx512-off").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX512", "0")));
            config.AddJob(job.WithId("avx2-off").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX2", "0")));
            config.AddJob(job.WithId("scalar").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableHWIntrinsic", "0")));
        }

        return config;
    }
}
