using Rnn.Simd.StreamingService;

// dotnet run -c Release --project samples/Rnn.Simd.StreamingService -- --port 5077 [--mode batched|per-stream] [--model FILE]
ServerOptions options;
try
{
    options = ServerOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

await using WebApplication app = StreamingServer.Build(options);
await app.StartAsync();
Console.WriteLine($"Rnn.Simd streaming service ({options.ModeName}) on {string.Join(", ", app.Urls)}: gRPC rnnsimd.streaming.v1.StreamingInference, GET /healthz, GET /metrics");
await app.WaitForShutdownAsync();
return 0;
