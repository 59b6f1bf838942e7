using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary><see cref="Forecaster"/>: learning a sine wave, rolling it out, determinism, allocation and validation.</summary>
[Trait("Category", "Networks")]
[Collection(NonParallelCollection.Name)]
public sealed class ForecasterTests(ITestOutputHelper output)
{
    private const double Frequency = 0.3;

    private static float Sine(int t, int phase) => (float)Math.Sin(Frequency * (t + (7 * phase)));

    [Fact]
    public void LearnsASineWave_AndTheRolloutFromAHistoryTracksIt()
    {
        const int steps = 20, batch = 4;
        using var model = Forecaster.Create(new ForecasterOptions { InputSize = 1, Recurrent = new RecurrentNetworkOptions { HiddenSize = 24, Cell = CellType.Lstm } });
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, 2);
        var trainer = new Trainer(model.Parameters, new Adam(0.01), new TrainerOptions { MaxGradientNorm = 1 });
        var x = new float[steps * batch];
        var y = new float[steps * batch];
        var watch = Stopwatch.StartNew();
        double loss = double.NaN;
        for (int chunk = 0; chunk < 300; chunk++)
        {
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    x[(t * batch) + b] = Sine((chunk * steps) + t, b);
                    y[(t * batch) + b] = Sine((chunk * steps) + t + 1, b);
                }
            }

            loss = model.ForwardBackward(x, steps, batch, y).Loss;
            trainer.Update();
        }

        output.WriteLine($"final MSE {loss:E2} after 300 chunks in {watch.ElapsedMilliseconds} ms");
        Assert.True(loss < 2e-3, $"MSE {loss}");

        ForecasterInference inference = model.ToInference();
        ForecastStream stream = inference.CreateForecast();
        const int history = 40, horizon = 25;
        float[] past = [.. Enumerable.Range(0, history).Select(t => Sine(t, 3))];
        stream.Prime(past, history);
        var forecast = new float[horizon];
        stream.Rollout(forecast);
        double worst = 0;
        for (int n = 0; n < horizon; n++)
        {
            worst = Math.Max(worst, Math.Abs(forecast[n] - Sine(history + n, 3)));
        }

        output.WriteLine($"rollout of {horizon} steps: worst error {worst:F4}");
        Assert.True(worst < 0.15, $"worst rollout error {worst}");

        // Deterministic: another stream repeats it bit for bit.
        ForecastStream other = inference.CreateForecast();
        other.Prime(past.AsSpan(0, 10), 10);
        other.Prime(past.AsSpan(10), history - 10);
        var again = new float[horizon];
        other.Rollout(again);
        Assert.Equal(forecast, again);
    }

    [Fact]
    public void Rollout_FeedsEachPredictionBack_AndAllocatesNothing()
    {
        using var model = Forecaster.Create(new ForecasterOptions { InputSize = 2, Recurrent = new RecurrentNetworkOptions { HiddenSize = 6, Cell = CellType.Gru, Layers = 2 } });
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, 4);
        ForecasterInference inference = model.ToInference();
        ForecastStream stream = inference.CreateForecast();
        stream.Prime([0.1f, 0.2f, 0.3f, 0.4f], 2);
        var rolled = new float[6];
        stream.Rollout(rolled);

        // By hand: the prediction after the history, then each fed back.
        RecurrentState state = inference.Network.CreateState();
        var y = new float[6 * 2];
        inference.Network.Process(state, [0.1f, 0.2f, 0.3f, 0.4f], 2, y);
        var prediction = new float[2];
        inference.Head.Forward(y.AsSpan(6, 6), 1, prediction);
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(prediction, rolled.AsSpan(n * 2, 2).ToArray());
            inference.Network.Step(state, prediction.ToArray(), y.AsSpan(0, 6));
            inference.Head.Forward(y.AsSpan(0, 6), 1, prediction);
        }

        var one = new float[2];
        AllocationAssert.None(() => stream.Rollout(one));
        float[] chunk = new TestRandom(1).Array(2 * 3 * 2);
        AllocationAssert.None(() =>
        {
            model.ForwardBackward(chunk, 2, 3, chunk);
            model.Parameters.ZeroGradients();
        });
    }

    [Fact]
    public void Validation_NamesTheParameter()
    {
        using var model = Forecaster.Create(new ForecasterOptions { InputSize = 2, Recurrent = new RecurrentNetworkOptions { HiddenSize = 3 } });
        Assert.Equal("inputs", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(new float[5], 1, 2, new float[4]).Loss).ParamName);
        Assert.Equal("targets", Assert.ThrowsAny<ArgumentException>(() => model.ForwardBackward(new float[4], 1, 2, new float[5]).Loss).ParamName);
        ForecastStream stream = model.ToInference().CreateForecast();
        Assert.Throws<InvalidOperationException>(() => stream.Rollout(new float[2]));
        Assert.Equal("history", Assert.ThrowsAny<ArgumentException>(() => stream.Prime(new float[3], 2)).ParamName);
        Assert.Equal("steps", Assert.ThrowsAny<ArgumentException>(() => stream.Prime([], 0)).ParamName);
        stream.Prime(new float[2], 1);
        Assert.Equal("output", Assert.ThrowsAny<ArgumentException>(() => stream.Rollout(new float[3])).ParamName);
    }
}
