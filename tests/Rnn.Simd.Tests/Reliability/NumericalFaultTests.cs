using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Reliability;

/// <summary>
/// Issue 7, items 1 and 5: the NaN/Inf policy and numerical faults.
/// <list type="bullet">
/// <item>Inference propagates: a NaN or ±∞ in one batch row's input reaches only that row's outputs and states (no
/// per-element checks on the hot path); the other rows keep the bits of a clean run.</item>
/// <item>Training guards: data that drives gradients past float's range is stopped by global-norm clipping (finite
/// but huge gradients: the step moves the weights by at most lr·max_norm) or by the non-finite guard (an Inf/NaN
/// gradient: the update is skipped, the weights keep every bit, the next normal update works).</item>
/// </list>
/// </summary>
[Trait("Category", "Reliability")]
public sealed class NumericalFaultTests
{
    private const int T = 5, B = 3;

    public static TheoryData<int> Architectures() => [.. Enumerable.Range(0, TestNetworks.Architectures().Count())];

    [Theory]
    [MemberData(nameof(Architectures))]
    public void NaNInOneBatchRow_ReachesOnlyThatRow_FromItsStepOn(int architecture)
    {
        RecurrentNetworkOptions o = TestNetworks.Architectures(input: 4, hidden: 6).ElementAt(architecture);
        RecurrentNetwork network = TestNetworks.Create(o, seed: 3);
        float[] x = new TestRandom(9).Array(T * B * o.InputSize);
        (float[] clean, float[] cleanH) = Run(network, x);

        const int row = 1, step = 2;
        float[] faulty = (float[])x.Clone();
        faulty[(((step * B) + row) * o.InputSize) + 2] = float.NaN;
        (float[] y, float[] hN) = Run(network, faulty);

        int f = o.LayerOutputSize;
        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < B; b++)
            {
                ReadOnlySpan<float> got = y.AsSpan(((t * B) + b) * f, f), want = clean.AsSpan(((t * B) + b) * f, f);
                if (b != row || t < step)
                {
                    Assert.True(got.SequenceEqual(want), $"{o.Cell}: row {b} step {t} changed although the NaN was in row {row} at step {step}.");
                }
                else
                {
                    Assert.True(got.ToArray().All(float.IsNaN), $"{o.Cell}: row {b} step {t} is not all NaN.");
                }
            }
        }

        // Final states: the affected row is NaN in every layer, the others are untouched.
        int hOut = o.OutputSize;
        for (int layer = 0; layer < o.Layers; layer++)
        {
            for (int b = 0; b < B; b++)
            {
                Span<float> got = hN.AsSpan(((layer * B) + b) * hOut, hOut), want = cleanH.AsSpan(((layer * B) + b) * hOut, hOut);
                Assert.True(b == row ? got.ToArray().All(float.IsNaN) : got.SequenceEqual(want));
            }
        }
    }

    [Theory]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void InfinityInOneBatchRow_LeavesTheOtherRowsBitIdentical(float infinity)
    {
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures(input: 4, hidden: 6))
        {
            RecurrentNetwork network = TestNetworks.Create(o, seed: 4);
            float[] x = new TestRandom(10).Array(T * B * o.InputSize);
            (float[] clean, _) = Run(network, x);
            float[] faulty = (float[])x.Clone();
            faulty[((1 * B) + 0) * o.InputSize] = infinity;   // row 0, step 1
            (float[] y, _) = Run(network, faulty);
            int f = o.LayerOutputSize;
            for (int t = 0; t < T; t++)
            {
                for (int b = 1; b < B; b++)
                {
                    Assert.True(y.AsSpan(((t * B) + b) * f, f).SequenceEqual(clean.AsSpan(((t * B) + b) * f, f)), $"{o.Cell}: row {b} changed.");
                }
            }

            // Row 0 before the fault is untouched; from it on, the row is whatever IEEE arithmetic makes of ±∞
            // (saturated gates or NaN), never a crash, and the same bits on every run.
            Assert.True(y.AsSpan(0, f).SequenceEqual(clean.AsSpan(0, f)));
            Assert.Equal(y, Run(network, faulty).Output);
        }
    }

    [Fact]
    public void StreamingStep_PropagatesNaN_AndResetRecovers()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 5 };
        RecurrentNetwork network = TestNetworks.Create(o);
        RecurrentState state = network.CreateState(2);
        float[] x = [0.1f, 0.2f, 0.3f, float.NaN, 0.5f, 0.6f], y = new float[10];
        network.Step(state, x, y);
        Assert.All(y.AsSpan(0, 5).ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(y.AsSpan(5, 5).ToArray(), v => Assert.True(float.IsNaN(v)));
        Assert.All(state.Cell[5..].ToArray(), v => Assert.True(float.IsNaN(v)));

        // The NaN stays in its stream's state until the caller resets it.
        x[3] = 0.4f;
        network.Step(state, x, y);
        Assert.All(y.AsSpan(5, 5).ToArray(), v => Assert.True(float.IsNaN(v)));
        state.Reset();
        network.Step(state, x, y);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.Rnn)]
    public void SubnormalInputs_KeepSubnormalStates_NotFlushedToZero(CellType cell)
    {
        // The policy: IEEE arithmetic throughout, no flush-to-zero (which .NET cannot set portably and which would make
        // the bits depend on the ISA); DenormalBenchmarks shows such a step costs about the same as a normal one.
        var o = new RecurrentNetworkOptions { Cell = cell, InputSize = 8, HiddenSize = 16 };
        var zeroBias = TestNetworks.PyTorchParameters(o, 5);
        zeroBias["bias_ih_l0"].AsSpan().Clear();
        zeroBias["bias_hh_l0"].AsSpan().Clear();
        RecurrentNetwork network = RecurrentNetwork.FromPyTorch(o, zeroBias);
        RecurrentState state = network.CreateState();
        float[] x = new TestRandom(6).Array(8, -1e-39f, 1e-39f), y = new float[16];
        for (int t = 0; t < 50; t++)
        {
            network.Step(state, x, y);
        }

        Assert.True(y.Count(v => v != 0 && float.IsSubnormal(v)) >= 12, $"{cell}: h = {string.Join(", ", y)}");
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void HugeButFiniteGradients_AreClipped_AndTheUpdateStaysFinite()
    {
        using var fixture = new IdentityRnn(inputScale: 1e12f);
        float[] before = fixture.Values();
        const double lr = 0.05, maxNorm = 1;
        var trainer = new Trainer(fixture.Network.Parameters, new Sgd(lr), new TrainerOptions { MaxGradientNorm = maxNorm });
        fixture.ForwardBackward();
        Assert.True(fixture.Network.Parameters.GradientsAreFinite());
        UpdateResult result = trainer.Update();

        Assert.True(result.Applied);
        Assert.True(result.GradientNorm > 1e20, $"the data was meant to drive the gradient norm far past 1, was {result.GradientNorm:E3}");
        float[] after = fixture.Values();
        Assert.All(after, v => Assert.True(float.IsFinite(v)));
        double step = Math.Sqrt(after.Zip(before, (a, b) => ((double)a - b) * ((double)a - b)).Sum());
        Assert.True(step <= lr * maxNorm * (1 + 1e-4), $"clipped step {step}, expected at most {lr * maxNorm}");
        Assert.True(step > 0.5 * lr * maxNorm);
    }

    [Theory]
    [InlineData(NonFiniteGradientPolicy.Skip)]
    [InlineData(NonFiniteGradientPolicy.Throw)]
    public void OverflowingGradients_AreStoppedByTheGuard_WeightsKeepEveryBit_AndTrainingContinues(NonFiniteGradientPolicy policy)
    {
        using var fixture = new IdentityRnn(inputScale: 1e30f);
        float[] before = fixture.Values();
        var trainer = new Trainer(fixture.Network.Parameters, new Adam(0.01), new TrainerOptions { MaxGradientNorm = 1, OnNonFiniteGradient = policy });
        fixture.ForwardBackward();
        Assert.False(fixture.Network.Parameters.GradientsAreFinite());
        if (policy == NonFiniteGradientPolicy.Skip)
        {
            UpdateResult skipped = trainer.Update();
            Assert.False(skipped.Applied);
            Assert.False(double.IsFinite(skipped.GradientNorm));
        }
        else
        {
            Assert.Throws<InvalidOperationException>(() => trainer.Update());
            fixture.Network.Parameters.ZeroGradients();
        }

        Assert.Equal(1, trainer.UpdatesSkipped);
        Assert.Equal(0, trainer.Optimizer.StepCount);   // Adam's moments and step untouched too
        Assert.Equal(Bits(before), Bits(fixture.Values()));

        // Normal data afterwards: the update applies and the weights stay finite.
        fixture.Rescale(1f);
        fixture.ForwardBackward();
        Assert.True(trainer.Update().Applied);
        float[] after = fixture.Values();
        Assert.All(after, v => Assert.True(float.IsFinite(v)));
        Assert.NotEqual(Bits(before), Bits(after));
    }

    [Fact]
    public void OverflowingData_ThroughAModel_IsSkipped_WithoutCorruptingIt()
    {
        using var model = Forecaster.Create(new ForecasterOptions { InputSize = 2, Recurrent = new RecurrentNetworkOptions { HiddenSize = 8, Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Identity } });
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, seed: 5);
        var trainer = new Trainer(model.Parameters, new Adam(0.01), new TrainerOptions { MaxGradientNorm = 1 });
        float[] before = model.Parameters.Values.ToArray();
        float[] inputs = new TestRandom(1).Array(4 * 2 * 2, -3e30f, 3e30f), targets = new TestRandom(2).Array(inputs.Length, -3e30f, 3e30f);
        model.ForwardBackward(inputs, 4, 2, targets);
        Assert.False(trainer.Update().Applied);
        Assert.Equal(Bits(before), Bits(model.Parameters.Values.ToArray()));

        model.ResetState();
        model.ForwardBackward(new TestRandom(3).Array(16), 4, 2, new TestRandom(4).Array(16));
        Assert.True(trainer.Update().Applied);
        Assert.All(model.Parameters.Values.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    private static (float[] Output, float[] HN) Run(RecurrentNetwork network, float[] x)
    {
        RecurrentNetworkOptions o = network.Options;
        float[] y = new float[T * B * o.LayerOutputSize], hN = new float[o.Layers * o.Directions * B * o.OutputSize];
        network.Forward(x, T, B, y, hN: hN);
        return (y, hN);
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];

    /// <summary>A linear (identity) Elman network with MSE: large inputs give proportionally large gradients, no saturation.</summary>
    private sealed class IdentityRnn : IDisposable
    {
        private readonly RecurrentTape _tape;
        private readonly float[] _x, _target, _y, _dy;
        private readonly float[] _unitX, _unitTarget;

        public IdentityRnn(float inputScale)
        {
            var o = new RecurrentNetworkOptions { Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Identity, InputSize = 3, HiddenSize = 4 };
            Network = TrainableRecurrentNetwork.Create(o);
            Initializers.Apply(Network.Parameters, RecurrentInitialization.PyTorch, 11);
            _tape = Network.CreateTape();
            var random = new TestRandom(12);
            _unitX = random.Array(T * B * 3);
            _unitTarget = random.Array(T * B * 4);
            _x = new float[_unitX.Length];
            _target = new float[_unitTarget.Length];
            _y = new float[_target.Length];
            _dy = new float[_target.Length];
            Rescale(inputScale);
        }

        public TrainableRecurrentNetwork Network { get; }

        public void Rescale(float scale)
        {
            for (int i = 0; i < _x.Length; i++)
            {
                _x[i] = _unitX[i] * scale;
            }

            for (int i = 0; i < _target.Length; i++)
            {
                _target[i] = _unitTarget[i] * scale;
            }
        }

        public float[] Values() => Network.Parameters.Values.ToArray();

        public void ForwardBackward()
        {
            Network.Forward(_tape, _x, T, B, _y);
            Losses.MeanSquaredError(_y, _target, _dy);
            Network.Backward(_tape, _dy);
        }

        public void Dispose() => _tape.Dispose();
    }
}
