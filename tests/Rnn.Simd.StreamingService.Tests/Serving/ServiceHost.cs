using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.StreamingProtocol;
using Rnn.Simd.StreamingService;

namespace Rnn.Simd.StreamingService.Tests.Serving;

/// <summary>The sample service on a real Kestrel, on a free port of 127.0.0.1, for one test; disposing stops it.</summary>
internal sealed class ServiceHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http;

    private ServiceHost(WebApplication app, int port)
    {
        _app = app;
        Port = port;
        Address = new Uri($"http://127.0.0.1:{port}");
        _http = new HttpClient { BaseAddress = Address, DefaultRequestVersion = new Version(2, 0), DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
    }

    public int Port { get; }

    public Uri Address { get; }

    public StreamEngine Engine => _app.Services.GetRequiredService<StreamEngine>();

    /// <summary>Starts the service in <paramref name="options"/>' mode (its port ignored: a free one is taken).</summary>
    public static async Task<ServiceHost> StartAsync(ServerOptions options, RecurrentNetwork? network = null)
    {
        WebApplication app = StreamingServer.Build(options with { Port = 0 }, network);
        await app.StartAsync();
        int port = new Uri(app.Urls.Single()).Port;
        return new ServiceHost(app, port);
    }

    /// <summary>A small seeded two-layer LSTM (fast enough for thousands of calls).</summary>
    public static RecurrentNetwork SmallNetwork() =>
        RandomNetwork(new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 8, HiddenSize = 16, Layers = 2 }, seed: 11, scale: 0.4f);

    /// <summary>A network of <paramref name="options"/>' architecture with weights uniform in ±<paramref name="scale"/>.</summary>
    public static RecurrentNetwork RandomNetwork(RecurrentNetworkOptions options, ulong seed, float scale)
    {
        var random = new SplitMix(seed);
        var parameters = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (ParameterSpec spec in options.ParameterSpecs())
        {
            parameters[spec.Name] = [.. Enumerable.Range(0, spec.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => random.NextSigned() * scale)];
        }

        return RecurrentNetwork.FromPyTorch(options, parameters);
    }

    public GrpcChannel Channel() => GrpcChannel.ForAddress(Address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
        MaxSendMessageSize = null,
    });

    public async Task<MetricsSnapshot> MetricsAsync()
    {
        string json = await _http.GetStringAsync("/metrics");
        return JsonSerializer.Deserialize<MetricsSnapshot>(json, StreamingServer.MetricsJson)!;
    }

    public Task<string> HealthAsync() => _http.GetStringAsync("/healthz");

    /// <summary>Waits (polling) until the service holds no stream; the server ends a call a moment after its client does.</summary>
    public async Task<MetricsSnapshot> WaitForNoStreamsAsync(TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            MetricsSnapshot metrics = await MetricsAsync();
            if ((metrics.LiveStreams == 0 && Engine.Count == 0) || DateTime.UtcNow > deadline)
            {
                return metrics;
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
