using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;

namespace Rnn.Simd.Benchmarks;

/// <summary>The suite's configuration: MemoryDiagnoser always, a GFLOP/s column, and one job per ISA on request.</summary>
internal static class BenchmarkConfig
{
    public static (string[] Remaining, bool AllIsas) TakeIsaOption(string[] args)
    {
        var rest = new List<string>();
        bool all = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--isa" && i + 1 < args.Length)
            {
                all = args[++i] == "all";
                continue;
            }

            rest.Add(args[i]);
        }

        return (rest.ToArray(), all);
    }

    /// <param name="allIsas">Add a job per instruction-set switch.</param>
    /// <param name="jobFromCommandLine">The user passed --job: use that job instead of the default one.</param>
    public static IConfig Create(bool allIsas, bool jobFromCommandLine)
    {
        ManualConfig config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(new ThroughputColumn())
            .WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared))
            .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(30));

        if (!jobFromCommandLine)
        {
            config.AddJob(Job.Default.WithId("best-width").AsBaseline());
        }

        if (allIsas)
        {
            config.AddJob(Job.Default.WithId("avx512-off").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX512", "0")));
            config.AddJob(Job.Default.WithId("avx2-off").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX2", "0")));
            config.AddJob(Job.Default.WithId("scalar").WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableHWIntrinsic", "0")));
        }

        return config;
    }
}
