using Rnn.Simd.LoadGenerator;
using Rnn.Simd.StreamingProtocol;
using Xunit;

namespace Rnn.Simd.StreamingService.Tests.Serving;

/// <summary>
/// The sample service in both modes, on the seeded LSTM (X = H = 256): every stream's outputs are bit for bit a direct
/// run of the network on that stream's frames, from a test's own client and from the load generator's check mode.
/// Waits are for completion only, with time-outs that only a hang reaches.
/// </summary>
[Trait("Category", "Serving")]
public sealed class StreamingServiceTests
{
    private static readonly TimeSpan s_hang = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData(true, 1, 1)]
    [InlineData(false, 1, 1)]
    [InlineData(true, 2, 2)]   // two batchers side by side, each with a team of two
    public async Task EightConcurrentStreams_EachEqualTheDirectRun(bool batched, int batchers, int threads)
    {
        const int streams = 8, frames = 50;
        await using ServiceHost host = await ServiceHost.StartAsync(new ServerOptions { Batched = batched, Batchers = batchers, Threads = threads });
        using var channel = host.Channel();
        var client = new StreamingInference.StreamingInferenceClient(channel);
        ModelInfo model = await client.DescribeAsync(new DescribeRequest());
        Assert.Equal(batched ? "batched" : "per-stream", model.Mode);
        Assert.Equal(SampleModel.SeededInputSize, model.InputSize);

        float[][] outputs = await Task.WhenAll(Enumerable.Range(0, streams).Select(s => Streams.RunAsync(client, s, frames, model.InputSize, model.OutputSize))).WaitAsync(s_hang);

        var network = SampleModel.Seeded();   // an independent load of the same seeded weights
        for (int s = 0; s < streams; s++)
        {
            Streams.AssertBits(Streams.DirectRun(network, s, frames), outputs[s], $"stream {s}");
        }

        MetricsSnapshot metrics = await host.WaitForNoStreamsAsync(s_hang);
        Assert.Equal(0, metrics.LiveStreams);
        Assert.Equal(streams * frames, metrics.Steps);
        Assert.Equal(streams, metrics.StreamsOpened);
        Assert.True(metrics.EngineSeconds > 0 && metrics.CpuSeconds > metrics.EngineSeconds / 4, $"engine {metrics.EngineSeconds} s, CPU {metrics.CpuSeconds} s");
        if (batched)
        {
            Assert.Equal(streams * frames, (long)Math.Round(metrics.MeanBatchSize * metrics.Batches));
            Assert.Equal(metrics.Batches, metrics.BatchSizes.Values.Sum());
        }
        else
        {
            Assert.Equal(0, metrics.Batches);
        }

        Assert.Equal("ok\n", await host.HealthAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task LoadGeneratorCheck_FindsEveryOutputEqual_AndACheckAgainstOtherWeightsFails(bool batched)
    {
        await using ServiceHost host = await ServiceHost.StartAsync(new ServerOptions { Batched = batched });
        var options = new LoadOptions { Port = host.Port, Streams = 8, Frames = 50, Rate = 500, Seconds = 60, WarmupSeconds = 0, Connections = 2, Check = true };

        LoadReport report = await LoadRun.RunAsync(options).WaitAsync(s_hang);
        Assert.Empty(report.Errors);
        Assert.Equal(8 * 50, report.FramesSent);
        Assert.Equal(8 * 50, report.FramesReceived);
        Assert.Equal(8 * 50, report.Checked);
        Assert.Equal(0, report.Mismatches);
        Assert.Equal(0, report.OutOfOrder);
        Assert.Equal(8 * 50, report.FramesMeasured);
        Assert.True(report.LatencyP50Us > 0 && report.LatencyP50Us <= report.LatencyP99Us && report.LatencyP99Us <= report.LatencyMaxUs);
        Assert.Equal(8 * 50, report.ServerSteps);

        // The check is not blind: the same run checked against other weights of the same shape finds every output wrong.
        Layers.RecurrentNetwork other = ServiceHost.RandomNetwork(SampleModel.Seeded().Options, seed: 99, scale: 0.0625f);
        LoadReport wrong = await LoadRun.RunAsync(options with { Streams = 2 }, other).WaitAsync(s_hang);
        Assert.Equal(2 * 50, wrong.Checked);
        Assert.Equal(2 * 50, wrong.Mismatches);
    }

    [Fact]
    public async Task AModelFromAPyTorchFile_IsServed_AndChecked()
    {
        // The service loads the file (--model); the test loads it again through the library's importer, and the load
        // generator's check loads it a third time: all three agree on every bit.
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "lstm_l2.safetensors");
        await using ServiceHost host = await ServiceHost.StartAsync(new ServerOptions { ModelPath = path });
        using var channel = host.Channel();
        var client = new StreamingInference.StreamingInferenceClient(channel);
        ModelInfo model = await client.DescribeAsync(new DescribeRequest());
        Assert.Contains("lstm_l2.safetensors", model.Source, StringComparison.Ordinal);
        Assert.Equal((5, 7), (model.InputSize, model.OutputSize));

        Layers.RecurrentNetwork network = Import.PyTorchImport.Load(path).Network;
        float[][] outputs = await Task.WhenAll(Enumerable.Range(0, 3).Select(s => Streams.RunAsync(client, s, 20, 5, 7))).WaitAsync(s_hang);
        for (int s = 0; s < 3; s++)
        {
            Streams.AssertBits(Streams.DirectRun(network, s, 20), outputs[s], $"stream {s}");
        }

        LoadReport report = await LoadRun.RunAsync(new LoadOptions
        {
            Port = host.Port, Streams = 4, Frames = 30, Rate = 500, Seconds = 60, WarmupSeconds = 0, Check = true, ModelPath = path,
        }).WaitAsync(s_hang);
        Assert.Empty(report.Errors);
        Assert.Equal((4 * 30, 0L), (report.Checked, report.Mismatches));
    }

    [Theory]
    [InlineData("--host", "10.0.0.1")]
    [InlineData("--host", "192.168.1.1")]
    [InlineData("--host", "example.com")]
    [InlineData("--streams", "4097")]
    [InlineData("--streams", "0")]
    [InlineData("--seconds", "0")]
    [InlineData("--seconds", "100000")]
    [InlineData("--batchers", "17")]
    [InlineData("--threads", "0")]
    [InlineData("--continuations", "sometimes")]
    public void LoadGenerator_RefusesOtherHostsAndUnboundedRuns(string option, string value)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => LoadOptions.Parse([option, value]));
        Assert.Contains(option, e.Message, StringComparison.Ordinal);
        Assert.Equal(4096, LoadOptions.Parse(["--streams", "4096", "--host", "127.0.0.1"]).Streams);
    }

    [Fact]
    public async Task InProcessRuns_AreClosedLoopUnlessARateIsGiven_AndRunOnSeveralBatchers()
    {
        Assert.Equal(0, LoadOptions.Parse(["--in-process", "batched"]).Rate);
        Assert.Equal(50, LoadOptions.Parse([]).Rate);
        LoadOptions options = LoadOptions.Parse(["--in-process", "batched", "--rate", "200", "--batchers", "2", "--threads", "2", "--streams", "8", "--seconds", "1", "--warmup", "0.2"]);
        Assert.Equal((200.0, 2, 2), (options.Rate, options.Batchers, options.Threads));

        // Open loop on two batchers: every stream steps (a frame a 5 ms period), in this process only.
        LoadReport report = await InProcessRun.RunAsync(options).WaitAsync(s_hang);
        Assert.Equal(200, report.RatePerStream);
        Assert.True(report.FramesMeasured > 0 && report.MeanBatchSize >= 1, $"{report.FramesMeasured} frames, mean batch {report.MeanBatchSize}");
    }
}
