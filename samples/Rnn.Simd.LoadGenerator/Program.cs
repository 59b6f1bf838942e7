using System.Text.Json;
using Rnn.Simd.LoadGenerator;

// dotnet run -c Release --project samples/Rnn.Simd.LoadGenerator -- --port 5077 --streams 512 --rate 50 --seconds 30 [--check] [--json OUT]
LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(options.Seconds + 60));   // a hard bound past the run's own end
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
LoadReport report;
try
{
    report = options.InProcess is null ? await LoadRun.RunAsync(options, cancellationToken: stop.Token) : await InProcessRun.RunAsync(options, stop.Token);
}
catch (Exception e) when (e is Grpc.Core.RpcException or HttpRequestException or InvalidOperationException or InvalidDataException)
{
    Console.Error.WriteLine($"The run failed: {e.Message}");
    return 1;
}

Console.Write(report.ToTable());
if (options.JsonPath is not null)
{
    await File.WriteAllTextAsync(options.JsonPath, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
}

return report.Mismatches == 0 && report.OutOfOrder == 0 && report.Errors.Count == 0 && report.FramesMeasured > 0 ? 0 : 1;
