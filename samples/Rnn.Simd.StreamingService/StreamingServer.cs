using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Rnn.Simd.Layers;
using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.StreamingService;

/// <summary>Builds the web application: Kestrel on 127.0.0.1 only, the gRPC service, <c>/healthz</c> and <c>/metrics</c>.</summary>
public static class StreamingServer
{
    /// <summary>The JSON of <c>/metrics</c> (snake_case names), also what the load generator reads.</summary>
    public static JsonSerializerOptions MetricsJson { get; } = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>
    /// The service, not started. The model is loaded once here (a PyTorch file or the seeded LSTM), or
    /// <paramref name="network"/> is used as given (tests).
    /// </summary>
    public static WebApplication Build(ServerOptions options, RecurrentNetwork? network = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        (RecurrentNetwork model, string source) = network is null ? SampleModel.Load(options.ModelPath) : (network, "given network");
        RecurrentNetworkOptions o = model.Options;
        if (o.Bidirectional || o.Reverse)
        {
            throw new ArgumentException("A live stream needs a unidirectional, forward network.", nameof(network));
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Loopback only. Cleartext HTTP/2 with prior knowledge (h2c: Kestrel offers HTTP/2 beside HTTP/1.1 only
            // through TLS negotiation), for gRPC and the two GET endpoints alike (curl --http2-prior-knowledge).
            kestrel.Listen(IPAddress.Loopback, options.Port, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Limits.Http2.MaxStreamsPerConnection = ServerOptions.StreamLimit;
        });
        builder.Services.AddGrpc(grpc =>
        {
            // A frame is X floats (4 bytes each, packed) and a sequence number: anything much larger is refused with
            // RESOURCE_EXHAUSTED before it is parsed.
            grpc.MaxReceiveMessageSize = (4 * o.InputSize) + 64;
            grpc.EnableDetailedErrors = true;
        });

        var metrics = new ServiceMetrics();
        var engine = new StreamEngine(model, options, metrics);
        HeapSettler? settler = options.SettleHeap ? new HeapSettler(metrics) : null;
        var description = new ModelDescription(source, options.ModeName);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton(description);

        WebApplication app = builder.Build();
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            settler?.Dispose();
            engine.Dispose();   // the batcher's loop thread ends here
            metrics.Dispose();
        });
        app.MapGrpcService<StreamingInferenceService>();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/metrics", () => Results.Json(metrics.Snapshot(options.ModeName, source, engine.Capacity), MetricsJson));
        return app;
    }
}
