using System.Text.Json;
using Rnn.Simd.IO;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// The optimisers and schedules against PyTorch 1.13 (tools/golden/optim.py): the same seeded parameters and
/// gradients, every parameter after every step bit for bit, and every schedule's rates per epoch. Also in the
/// Determinism category, so CI re-runs it with AVX-512, AVX2 (hardware FMA) and all intrinsics switched off.
/// </summary>
[Trait("Category", "Training")]
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class OptimizerGoldenTests(ITestOutputHelper output)
{
    private static readonly string s_path = Path.Combine(AppContext.BaseDirectory, "GoldenOptim", "optim.safetensors");

    public static TheoryData<string> Configs()
    {
        var data = new TheoryData<string>();
        foreach (JsonElement config in Metadata("configs").EnumerateArray())
        {
            data.Add(config.GetProperty("name").GetString()!);
        }

        return data;
    }

    public static TheoryData<string> Schedules()
    {
        var data = new TheoryData<string>();
        foreach (JsonElement schedule in Metadata("schedules").EnumerateArray())
        {
            data.Add(schedule.GetProperty("name").GetString()!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Step_MatchesPyTorch_BitForBit(string name)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(s_path);
        JsonElement config = Metadata("configs").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        int steps = int.Parse(file.Metadata["steps"], System.Globalization.CultureInfo.InvariantCulture);
        string[] roles = JsonSerializer.Deserialize<string[]>(file.Metadata["roles"])!;

        var specs = new List<ParameterSpec>();
        for (int i = 0; i < roles.Length; i++)
        {
            SafeTensorsEntry entry = file.GetEntry($"param.{i}");
            specs.Add(new ParameterSpec($"t{i}", [.. entry.Shape.Select(d => (int)d)], Enum.Parse<ParameterRole>(roles[i])));
        }

        ParameterSet set = ParameterSet.Create(specs);
        float[][] grads = new float[roles.Length][];
        float[][] expected = new float[roles.Length][];
        for (int i = 0; i < roles.Length; i++)
        {
            file.ReadSingle($"param.{i}").CopyTo(set.Value($"t{i}"));
            grads[i] = file.ReadSingle($"grad.{i}");
            expected[i] = file.ReadSingle($"{name}.{i}");
        }

        double[] rates = file.ReadDouble($"{name}.lr");
        Optimizer optimizer = Create(config);
        long version = set.Version;
        int maxUlps = 0;
        for (int step = 0; step < steps; step++)
        {
            optimizer.LearningRate = rates[step];
            for (int i = 0; i < roles.Length; i++)
            {
                int length = set.Tensors[i].Length;
                grads[i].AsSpan(step * length, length).CopyTo(set.Gradient($"t{i}"));
            }

            optimizer.Step(set);
            Assert.Equal(step + 1, optimizer.StepCount);
            Assert.Equal(version + step + 1, set.Version);
            for (int i = 0; i < roles.Length; i++)
            {
                int length = set.Tensors[i].Length;
                ReadOnlySpan<float> actual = set.Value($"t{i}");
                ReadOnlySpan<float> pyTorch = expected[i].AsSpan(step * length, length);
                for (int j = 0; j < length; j++)
                {
                    maxUlps = Math.Max(maxUlps, Ulps(actual[j], pyTorch[j]));
                }
            }

            // The gradients are read, never changed.
            for (int i = 0; i < roles.Length; i++)
            {
                int length = set.Tensors[i].Length;
                Assert.True(set.Gradient($"t{i}").SequenceEqual(grads[i].AsSpan(step * length, length)));
            }
        }

        output.WriteLine($"{name}: {steps} steps, {set.Length} parameters, max distance to PyTorch {maxUlps} ulp");
        Assert.Equal(0, maxUlps);
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public void Schedule_MatchesPyTorchsClosedForm_AndItsRecursiveForm(string name)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(s_path);
        JsonElement meta = Metadata("schedules").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        double baseLr = meta.GetProperty("base_lr").GetDouble();
        JsonElement kwargs = meta.GetProperty("kwargs");
        LearningRateSchedule schedule = meta.GetProperty("scheduler").GetString() switch
        {
            "StepLR" => new StepLR(baseLr, kwargs.GetProperty("step_size").GetInt32(), kwargs.GetProperty("gamma").GetDouble()),
            "CosineAnnealingLR" => new CosineAnnealingLR(
                baseLr, kwargs.GetProperty("T_max").GetInt32(), kwargs.TryGetProperty("eta_min", out JsonElement m) ? m.GetDouble() : 0),
            // LinearLR with end_factor 1: the warm-up part of LinearWarmup; a constant inner schedule after it.
            "LinearLR" => new LinearWarmup(new StepLR(baseLr, 1, 1.0), kwargs.GetProperty("total_iters").GetInt32(), kwargs.GetProperty("start_factor").GetDouble()),
            var other => throw new InvalidDataException(other),
        };

        double[] closed = file.ReadDouble($"schedule.{name}.closed");
        double[] recursive = file.ReadDouble($"schedule.{name}.recursive");
        double maxClosed = 0, maxRecursive = 0;
        for (int epoch = 0; epoch < closed.Length; epoch++)
        {
            double rate = schedule.LearningRateAt(epoch);
            maxClosed = Math.Max(maxClosed, Math.Abs(rate - closed[epoch]));
            maxRecursive = Math.Max(maxRecursive, Math.Abs(rate - recursive[epoch]) / Math.Max(recursive[epoch], 1e-300));
            Assert.True(Math.Abs(rate - closed[epoch]) <= 1e-12, $"epoch {epoch}: {rate:R} vs PyTorch's closed form {closed[epoch]:R}");
            Assert.True(Math.Abs(rate - recursive[epoch]) <= 1e-12, $"epoch {epoch}: {rate:R} vs PyTorch's recursive {recursive[epoch]:R}");
        }

        output.WriteLine($"{name}: max |ours − closed form| {maxClosed:E2}, max relative |ours − recursive| {maxRecursive:E2}");
        Assert.Equal(0.0, maxClosed);
    }

    internal static Optimizer Create(JsonElement config)
    {
        JsonElement k = config.GetProperty("kwargs");
        double Get(string key, double fallback) => k.TryGetProperty(key, out JsonElement v) ? v.GetDouble() : fallback;
        bool Flag(string key) => k.TryGetProperty(key, out JsonElement v) && v.GetBoolean();
        (double beta1, double beta2) = k.TryGetProperty("betas", out JsonElement b) ? (b[0].GetDouble(), b[1].GetDouble()) : (0.9, 0.999);
        ParameterRole[] excluded = config.GetProperty("no_decay").GetArrayLength() > 0 ? [.. Optimizer.BiasRoles] : [];
        double lr = Get("lr", double.NaN);
        return config.GetProperty("optimizer").GetString() switch
        {
            "SGD" => new Sgd(lr, Get("momentum", 0), Get("dampening", 0), Get("weight_decay", 0), Flag("nesterov")) { WeightDecayExcludedRoles = excluded },
            "Adam" => new Adam(lr, beta1, beta2, Get("eps", 1e-8), Get("weight_decay", 0), Flag("amsgrad")) { WeightDecayExcludedRoles = excluded },
            "AdamW" => new AdamW(lr, beta1, beta2, Get("eps", 1e-8), Get("weight_decay", 1e-2), Flag("amsgrad")) { WeightDecayExcludedRoles = excluded },
            "RMSprop" => new RmsProp(lr, Get("alpha", 0.99), Get("eps", 1e-8), Get("weight_decay", 0), Get("momentum", 0), Flag("centered")) { WeightDecayExcludedRoles = excluded },
            var other => throw new InvalidDataException(other),
        };
    }

    /// <summary>Distance in units in the last place (0 for equal bits or ±0; int.MaxValue for a NaN mismatch).</summary>
    internal static int Ulps(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b))
        {
            return float.IsNaN(a) && float.IsNaN(b) ? 0 : int.MaxValue;
        }

        static long Ordered(float x)
        {
            int bits = BitConverter.SingleToInt32Bits(x);
            return bits < 0 ? int.MinValue - (long)bits : bits;
        }

        return (int)Math.Min(int.MaxValue, Math.Abs(Ordered(a) - Ordered(b)));
    }

    private static JsonElement Metadata(string key)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(s_path);
        using JsonDocument document = JsonDocument.Parse(file.Metadata[key]);
        return document.RootElement.Clone();
    }
}
