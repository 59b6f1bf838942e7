using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

[Trait("Category", "Training")]
public sealed class OptimizerTests
{
    public static TheoryData<string> Variants() => [.. s_variants.Keys];

    private static readonly Dictionary<string, Func<Optimizer>> s_variants = new()
    {
        ["sgd"] = () => new Sgd(0.01),
        ["sgd_nesterov_wd"] = () => new Sgd(0.01, momentum: 0.9, weightDecay: 1e-4, nesterov: true),
        ["sgd_momentum_no_bias_decay"] = () => new Sgd(0.01, momentum: 0.9, dampening: 0.1, weightDecay: 1e-4) { WeightDecayExcludedRoles = Optimizer.BiasRoles },
        ["adam"] = () => new Adam(),
        ["adam_amsgrad_wd"] = () => new Adam(weightDecay: 1e-3, amsgrad: true),
        ["adamw_no_bias_decay"] = () => new AdamW() { WeightDecayExcludedRoles = Optimizer.BiasRoles },
        ["rmsprop"] = () => new RmsProp(),
        ["rmsprop_centered_momentum_wd"] = () => new RmsProp(momentum: 0.9, centered: true, weightDecay: 1e-4),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Step_AllocatesNothing_AfterTheFirst(string variant)
    {
        ParameterSet set = LstmSet();
        Optimizer optimizer = s_variants[variant]();
        new TestRandom(3).Fill(set.Gradients, -1e-3f, 1e-3f);
        AllocationAssert.None(() => optimizer.Step(set));
        Assert.True(optimizer.StepCount > 20);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Step_CountsMarksChanged_AndLeavesGradients(string variant)
    {
        ParameterSet set = LstmSet();
        new TestRandom(4).Fill(set.Gradients);
        float[] gradients = set.Gradients.ToArray(), before = set.Values.ToArray();
        Optimizer optimizer = s_variants[variant]();
        long version = set.Version;
        optimizer.Step(set);
        optimizer.Step(set);
        Assert.Equal(2, optimizer.StepCount);
        Assert.Equal(version + 2, set.Version);
        Assert.Equal(gradients, set.Gradients.ToArray());
        Assert.NotEqual(before, set.Values.ToArray());
    }

    [Fact]
    public void Step_OnAnotherSet_Throws_AndNullThrows()
    {
        var optimizer = new Adam();
        optimizer.Step(LstmSet());
        Assert.Equal("set", Assert.Throws<ArgumentException>(() => optimizer.Step(LstmSet())).ParamName);
        Assert.Equal("set", Assert.Throws<ArgumentNullException>(() => optimizer.Step(null!)).ParamName);
    }

    [Fact]
    public void ZeroLearningRate_LeavesSgdAndAdamValuesUnchanged()
    {
        foreach (Optimizer optimizer in new Optimizer[] { new Sgd(0, momentum: 0.9), new Adam(0), new RmsProp(0, momentum: 0.5) })
        {
            ParameterSet set = LstmSet();
            new TestRandom(5).Fill(set.Gradients);
            float[] before = set.Values.ToArray();
            optimizer.Step(set);
            Assert.Equal(before, set.Values.ToArray());
        }
    }

    [Fact]
    public void WeightDecayExclusion_LeavesExcludedRolesAsWithoutDecay()
    {
        // With zero gradients, SGD changes a value only through its decay: p ← p − lr·wd·p.
        ParameterSet set = LstmSet();
        set.Gradients.Clear();
        float[] before = set.Values.ToArray();
        var optimizer = new Sgd(0.1, weightDecay: 0.5) { WeightDecayExcludedRoles = [ParameterRole.InputBias, ParameterRole.RecurrentBias] };
        Assert.Equal([ParameterRole.InputBias, ParameterRole.RecurrentBias], optimizer.WeightDecayExcludedRoles);
        optimizer.Step(set);
        foreach (ParameterTensor t in set.Tensors)
        {
            bool excluded = t.Role is ParameterRole.InputBias or ParameterRole.RecurrentBias;
            ReadOnlySpan<float> after = set.Value(t);
            for (int i = 0; i < t.Length; i++)
            {
                float p = before[t.Offset + i];
                Assert.Equal(excluded ? p : MathF.FusedMultiplyAdd(p * 0.5f, -0.1f, p), after[i]);
            }
        }
    }

    [Fact]
    public void AdamW_WithoutDecay_IsAdam_BitForBit()
    {
        ParameterSet a = LstmSet(), b = LstmSet();
        var adam = new Adam(0.01, amsgrad: true);
        var adamW = new AdamW(0.01, weightDecay: 0, amsgrad: true);
        var random = new TestRandom(6);
        for (int step = 0; step < 5; step++)
        {
            random.Fill(a.Gradients);
            a.Gradients.CopyTo(b.Gradients);
            adam.Step(a);
            adamW.Step(b);
        }

        Assert.Equal(a.Values.ToArray(), b.Values.ToArray());
    }

    [Fact]
    public void Hyperparameters_AreValidated_NamingTheParameter()
    {
        static void Expect(string name, Action create) => Assert.Equal(name, Assert.Throws<ArgumentOutOfRangeException>(create).ParamName);

        Expect("learningRate", () => new Sgd(-0.1));
        Expect("learningRate", () => new Sgd(double.NaN));
        Expect("learningRate", () => new Adam(double.PositiveInfinity));
        Expect("momentum", () => new Sgd(0.1, momentum: -0.5));
        Expect("dampening", () => new Sgd(0.1, momentum: 0.5, dampening: double.NaN));
        Expect("weightDecay", () => new Sgd(0.1, weightDecay: -1e-4));
        Expect("beta1", () => new Adam(beta1: 1.0));
        Expect("beta1", () => new Adam(beta1: -0.1));
        Expect("beta2", () => new Adam(beta2: 1.5));
        Expect("beta2", () => new AdamW(beta2: double.NaN));
        Expect("epsilon", () => new Adam(epsilon: -1e-8));
        Expect("weightDecay", () => new AdamW(weightDecay: -0.01));
        Expect("beta1", () => new AdamW(beta1: 1.0));
        Expect("alpha", () => new RmsProp(alpha: -0.9));
        Expect("epsilon", () => new RmsProp(epsilon: double.NaN));
        Expect("momentum", () => new RmsProp(momentum: -0.1));
        Expect("weightDecay", () => new RmsProp(weightDecay: double.PositiveInfinity));
        Expect("WeightDecayExcludedRoles", () => _ = new Adam() { WeightDecayExcludedRoles = [(ParameterRole)99] });
        Assert.Equal("value", Assert.Throws<ArgumentNullException>(() => _ = new Adam() { WeightDecayExcludedRoles = null! }).ParamName);

        Assert.Equal("nesterov", Assert.Throws<ArgumentException>(() => new Sgd(0.1, nesterov: true)).ParamName);
        Assert.Equal("nesterov", Assert.Throws<ArgumentException>(() => new Sgd(0.1, momentum: 0.9, dampening: 0.1, nesterov: true)).ParamName);

        var optimizer = new Adam();
        Assert.Equal("value", Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.LearningRate = -1).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.LearningRate = double.NaN).ParamName);
        Assert.Equal(1e-3, optimizer.LearningRate);
        optimizer.LearningRate = 0;
        Assert.Equal(0, optimizer.LearningRate);
    }

    [Fact]
    public void Defaults_ArePyTorchs()
    {
        var adam = new Adam();
        Assert.Equal((1e-3, 0.9, 0.999, 1e-8, 0.0, false), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.WeightDecay, adam.Amsgrad));
        var adamW = new AdamW();
        Assert.Equal((1e-3, 0.9, 0.999, 1e-8, 1e-2, false), (adamW.LearningRate, adamW.Beta1, adamW.Beta2, adamW.Epsilon, adamW.WeightDecay, adamW.Amsgrad));
        var rmsProp = new RmsProp();
        Assert.Equal((1e-2, 0.99, 1e-8, 0.0, 0.0, false), (rmsProp.LearningRate, rmsProp.Alpha, rmsProp.Epsilon, rmsProp.WeightDecay, rmsProp.Momentum, rmsProp.Centered));
        var sgd = new Sgd(0.1);
        Assert.Equal((0.0, 0.0, 0.0, false), (sgd.Momentum, sgd.Dampening, sgd.WeightDecay, sgd.Nesterov));
        Assert.Empty(sgd.WeightDecayExcludedRoles);
    }

    [Fact]
    public void Schedules_ClosedForms_AndApply()
    {
        var step = new StepLR(0.1, stepSize: 3, gamma: 0.5);
        Assert.Equal([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025], Enumerable.Range(0, 7).Select(step.LearningRateAt));

        var cosine = new CosineAnnealingLR(1.0, period: 4, minimumLearningRate: 0.2);
        Assert.Equal(1.0, cosine.LearningRateAt(0));
        Assert.Equal(0.6, cosine.LearningRateAt(2), 15);
        Assert.Equal(0.2, cosine.LearningRateAt(4), 15);
        Assert.Equal(1.0, cosine.LearningRateAt(8), 15);

        var warm = new LinearWarmup(cosine, warmupEpochs: 4, startFactor: 0.2);
        Assert.Equal([0.2, 0.4, 0.6, 0.8], Enumerable.Range(0, 4).Select(e => Math.Round(warm.LearningRateAt(e), 15)));
        for (int e = 4; e < 12; e++)
        {
            Assert.Equal(cosine.LearningRateAt(e - 4), warm.LearningRateAt(e));
        }

        var optimizer = new Sgd(1.0);
        Assert.Equal(0.025, step.Apply(optimizer, 6));
        Assert.Equal(0.025, optimizer.LearningRate);
    }

    [Fact]
    public void Schedules_AreValidated_NamingTheParameter()
    {
        static void Expect(string name, Action create) => Assert.Equal(name, Assert.Throws<ArgumentOutOfRangeException>(create).ParamName);

        Expect("baseLearningRate", () => new StepLR(-1, 3));
        Expect("stepSize", () => new StepLR(0.1, 0));
        Expect("gamma", () => new StepLR(0.1, 3, double.NaN));
        Expect("baseLearningRate", () => new CosineAnnealingLR(double.NaN, 3));
        Expect("period", () => new CosineAnnealingLR(0.1, 0));
        Expect("minimumLearningRate", () => new CosineAnnealingLR(0.1, 3, -0.01));
        Expect("warmupEpochs", () => new LinearWarmup(new StepLR(0.1, 3), 0));
        Expect("startFactor", () => new LinearWarmup(new StepLR(0.1, 3), 2, 1.5));
        Expect("epoch", () => new StepLR(0.1, 3).LearningRateAt(-1));
        Assert.Equal("inner", Assert.Throws<ArgumentNullException>(() => new LinearWarmup(null!, 2)).ParamName);
        Assert.Equal("optimizer", Assert.Throws<ArgumentNullException>(() => new StepLR(0.1, 3).Apply(null!, 0)).ParamName);
    }

    /// <summary>A one-layer bidirectional LSTM with a projection: 10 tensors of every recurrent role, seeded values.</summary>
    internal static ParameterSet LstmSet()
    {
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 5, HiddenSize = 7, ProjectionSize = 3, Bidirectional = true };
        ParameterSet set = ParameterSet.Create(options.ParameterSpecs("rnn."));
        new TestRandom(2).Fill(set.Values);
        return set;
    }
}
