using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Rnn.Simd.Benchmarks;

/// <summary>A benchmark whose work is known: floating-point operations and bytes of weights streamed per call.</summary>
public interface IThroughput
{
    /// <summary>Floating-point operations per invocation (2 per multiply-add).</summary>
    double Flops { get; }

    /// <summary>Bytes that must stream from memory per invocation (packed weights), or 0.</summary>
    double Bytes { get; }
}

/// <summary>GFLOP/s and GB/s from the measured mean, for benchmarks implementing <see cref="IThroughput"/>.</summary>
internal sealed class ThroughputColumn : IColumn
{
    public string Id => nameof(ThroughputColumn);

    public string ColumnName => "GFLOP/s (GB/s)";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => false;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Billions of floating-point operations per second, and GB/s of packed weights streamed (batch-1 path)";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        BenchmarkReport? report = summary[benchmarkCase];
        if (report?.ResultStatistics is null || Activator.CreateInstance(benchmarkCase.Descriptor.Type) is not IThroughput work)
        {
            return "-";
        }

        foreach (var parameter in benchmarkCase.Parameters.Items)
        {
            benchmarkCase.Descriptor.Type.GetProperty(parameter.Name)?.SetValue(work, parameter.Value);
            benchmarkCase.Descriptor.Type.GetField(parameter.Name)?.SetValue(work, parameter.Value);
        }

        double seconds = report.ResultStatistics.Mean / 1e9;
        string flops = (work.Flops / seconds / 1e9).ToString("F1", CultureInfo.InvariantCulture);
        return work.Bytes > 0 ? $"{flops} ({(work.Bytes / seconds / 1e9).ToString("F1", CultureInfo.InvariantCulture)})" : flops;
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}
