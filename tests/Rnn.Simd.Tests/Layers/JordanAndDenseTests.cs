using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Reference;

namespace Rnn.Simd.Tests.Layers;

[Trait("Category", "Layers")]
[Trait("Isa", "All")]
public sealed class JordanAndDenseTests
{
    private sealed record Jordan(JordanNetworkOptions Options, float[] WIn, float[] WRec, float[] Bias, float[] WOut, float[] BOut)
    {
        public JordanNetwork Build() => JordanNetwork.Create(Options, WIn, WRec, Bias, WOut, BOut);

        public static Jordan Random(JordanNetworkOptions o, ulong seed)
        {
            var r = new TestRandom(seed);
            float s = 1f / MathF.Sqrt(o.HiddenSize);
            return new Jordan(o, r.Array(o.HiddenSize * o.InputSize, -s, s), r.Array(o.HiddenSize * o.OutputSize, -s, s), r.Array(o.HiddenSize, -s, s),
                r.Array(o.OutputSize * o.HiddenSize, -s, s), r.Array(o.OutputSize, -s, s));
        }
    }

    public static TheoryData<Nonlinearity, OutputActivation> Activations() => new()
    {
        { Nonlinearity.Tanh, OutputActivation.Identity },
        { Nonlinearity.Sigmoid, OutputActivation.Sigmoid },
        { Nonlinearity.Relu, OutputActivation.Softmax },
        { Nonlinearity.Identity, OutputActivation.Identity },
    };

    [Theory]
    [MemberData(nameof(Activations))]
    public void Jordan_MatchesTheDoubleReference_FreeRunningAndTeacherForced(Nonlinearity hidden, OutputActivation output)
    {
        var o = new JordanNetworkOptions { InputSize = 5, HiddenSize = 11, OutputSize = 4, HiddenActivation = hidden, OutputActivation = output };
        Jordan j = Jordan.Random(o, 3);
        JordanNetwork network = j.Build();
        const int steps = 12, batch = 3;
        var random = new TestRandom(4);
        float[] x = random.Array(steps * batch * o.InputSize, -2f, 2f), teacher = random.Array(steps * batch * o.OutputSize);
        foreach (float[]? forced in new[] { null, teacher })
        {
            float[] y = new float[steps * batch * o.OutputSize];
            network.Forward(x, steps, batch, y, teacher: forced);
            double[] expected = ReferenceJordan.Forward(o, j.WIn, j.WRec, j.Bias, j.WOut, j.BOut, x, steps, batch, forced);
            for (int i = 0; i < y.Length; i++)
            {
                Assert.True(Math.Abs(y[i] - expected[i]) <= 2e-6 * (1 + Math.Abs(expected[i])), $"y[{i}] = {y[i]:R}, reference {expected[i]:R} (teacher: {forced is not null}).");
            }
        }
    }

    [Fact]
    public void JordanSteps_AreBitIdentical_ToOneCall_AndAllocateNothing()
    {
        var o = new JordanNetworkOptions { InputSize = 6, HiddenSize = 20, OutputSize = 3, OutputActivation = OutputActivation.Softmax };
        JordanNetwork network = Jordan.Random(o, 8).Build();
        const int steps = 9, batch = 2;
        float[] x = new TestRandom(1).Array(steps * batch * o.InputSize);
        float[] whole = new float[steps * batch * o.OutputSize], streamed = new float[whole.Length];
        network.Forward(x, steps, batch, whole);
        JordanState state = network.CreateState(batch);
        network.Process(state, x.AsSpan(0, 4 * batch * o.InputSize), 4, streamed.AsSpan(0, 4 * batch * o.OutputSize));
        for (int t = 4; t < steps; t++)
        {
            network.Step(state, x.AsSpan(t * batch * o.InputSize, batch * o.InputSize), streamed.AsSpan(t * batch * o.OutputSize, batch * o.OutputSize));
        }

        StreamingTests.AssertBits(whole, streamed, "Jordan streamed");
        AllocationAssert.None(() => network.Step(state, x.AsSpan(0, batch * o.InputSize), streamed.AsSpan(0, batch * o.OutputSize)));
    }

    [Fact]
    public void ElmanWithAnOutputLayer_MatchesTheDoubleReference()
    {
        // Seed 003's simple recurrent network: h_t = tanh(W_in x_t + W_rec h_{t−1} + b), y_t = σ(W_out h_t + b_out).
        var o = new RecurrentNetworkOptions { Cell = CellType.Rnn, InputSize = 4, HiddenSize = 10 };
        Dictionary<string, float[]> p = TestNetworks.PyTorchParameters(o, 6);
        RecurrentNetwork network = RecurrentNetwork.FromPyTorch(o, p);
        var random = new TestRandom(2);
        float[] wOut = random.Array(3 * 10, -0.5f, 0.5f), bOut = random.Array(3);
        var head = new DenseLayer(10, 3, wOut, bOut, OutputActivation.Sigmoid);
        const int steps = 8;
        float[] x = random.Array(steps * 4), h = new float[steps * 10], y = new float[steps * 3];
        network.Forward(x, steps, 1, h);
        head.Forward(h, steps, y);

        var state = new double[10];
        for (int t = 0; t < steps; t++)
        {
            var next = new double[10];
            for (int i = 0; i < 10; i++)
            {
                double a = p["bias_ih_l0"][i] + p["bias_hh_l0"][i];
                for (int k = 0; k < 4; k++)
                {
                    a += p["weight_ih_l0"][(i * 4) + k] * x[(t * 4) + k];
                }

                for (int k = 0; k < 10; k++)
                {
                    a += p["weight_hh_l0"][(i * 10) + k] * state[k];
                }

                next[i] = Math.Tanh(a);
            }

            state = next;
            double[] expected = ReferenceJordan.Dense(wOut, bOut, OutputActivation.Sigmoid, state, 3);
            for (int j = 0; j < 3; j++)
            {
                Assert.True(Math.Abs(y[(t * 3) + j] - expected[j]) <= 2e-6, $"t={t} y[{j}] = {y[(t * 3) + j]:R}, reference {expected[j]:R}.");
            }
        }
    }

    [Fact]
    public void InvalidArguments_NameTheParameter()
    {
        var o = new JordanNetworkOptions { InputSize = 2, HiddenSize = 3, OutputSize = 2 };
        Jordan j = Jordan.Random(o, 1);
        JordanNetwork n = j.Build();
        Assert.Equal("inputWeight", Assert.ThrowsAny<ArgumentException>(() => JordanNetwork.Create(o, new float[5], j.WRec, j.Bias, j.WOut, j.BOut)).ParamName);
        Assert.Equal("options", Assert.ThrowsAny<ArgumentException>(() => JordanNetwork.Create(o with { HiddenSize = 0 }, j.WIn, j.WRec, j.Bias, j.WOut, j.BOut)).ParamName);
        Assert.Equal("input", Assert.ThrowsAny<ArgumentException>(() => n.Forward(new float[3], 2, 1, new float[4])).ParamName);
        Assert.Equal("teacher", Assert.ThrowsAny<ArgumentException>(() => n.Forward(new float[4], 2, 1, new float[4], teacher: new float[3])).ParamName);
        Assert.Equal("weight", Assert.ThrowsAny<ArgumentException>(() => new DenseLayer(3, 2, new float[5], [], OutputActivation.Identity)).ParamName);
        Assert.Equal("z", Assert.ThrowsAny<ArgumentException>(() => new DenseLayer(3, 2, new float[6], [], OutputActivation.Identity).Forward(new float[4], 2, new float[4])).ParamName);
    }
}
