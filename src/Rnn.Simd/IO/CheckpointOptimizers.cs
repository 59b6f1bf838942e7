using System.Globalization;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.IO;

/// <summary>
/// An optimiser's kind and hyperparameters as checkpoint metadata, and back. Keys are <c>optimizer</c> (the kind:
/// <c>sgd</c>, <c>adam</c>, <c>adamw</c>, <c>rmsprop</c>) and <c>optimizer.&lt;PyTorch's argument name&gt;</c>; numbers
/// are written shortest-round-trip, so the optimiser read back has the same doubles bit for bit.
/// </summary>
internal static class CheckpointOptimizers
{
    public const string KindKey = "optimizer";
    public const string StepCountKey = "optimizer.step_count";
    private const string Prefix = "optimizer.";

    /// <summary>The metadata describing <paramref name="optimizer"/> (without its state arrays).</summary>
    public static Dictionary<string, string> Describe(Optimizer optimizer)
    {
        var m = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [Prefix + "lr"] = Number(optimizer.LearningRate),
            [Prefix + "weight_decay"] = Number(optimizer.WeightDecay),
            [Prefix + "weight_decay_excluded"] = string.Join(",", optimizer.WeightDecayExcludedRoles),
            [StepCountKey] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
        };
        switch (optimizer)
        {
            case Sgd sgd:
                m[KindKey] = "sgd";
                m[Prefix + "momentum"] = Number(sgd.Momentum);
                m[Prefix + "dampening"] = Number(sgd.Dampening);
                m[Prefix + "nesterov"] = Flag(sgd.Nesterov);
                break;
            case AdaptiveMomentOptimizer adam:
                m[KindKey] = adam is AdamW ? "adamw" : "adam";
                m[Prefix + "beta1"] = Number(adam.Beta1);
                m[Prefix + "beta2"] = Number(adam.Beta2);
                m[Prefix + "eps"] = Number(adam.Epsilon);
                m[Prefix + "amsgrad"] = Flag(adam.Amsgrad);
                break;
            case RmsProp rms:
                m[KindKey] = "rmsprop";
                m[Prefix + "alpha"] = Number(rms.Alpha);
                m[Prefix + "eps"] = Number(rms.Epsilon);
                m[Prefix + "momentum"] = Number(rms.Momentum);
                m[Prefix + "centered"] = Flag(rms.Centered);
                break;
            default:
                throw new ArgumentException($"Optimiser {optimizer.GetType().Name} cannot be saved in a checkpoint.", nameof(optimizer));
        }

        return m;
    }

    /// <summary>
    /// A fresh optimiser (no state) with the kind and hyperparameters of <paramref name="metadata"/>.
    /// <paramref name="fail"/> makes the exception for a missing or unreadable value.
    /// </summary>
    public static Optimizer Create(IReadOnlyDictionary<string, string> metadata, Func<string, Exception> fail)
    {
        double Get(string key) => ParseNumber(Value(metadata, Prefix + key, fail), Prefix + key, fail);
        bool GetFlag(string key) => Value(metadata, Prefix + key, fail) switch
        {
            "true" => true,
            "false" => false,
            string other => throw fail($"metadata '{Prefix}{key}' is '{other}'; expected true or false"),
        };

        string kind = Value(metadata, KindKey, fail);
        ParameterRole[] excluded = ParseRoles(Value(metadata, Prefix + "weight_decay_excluded", fail), fail);
        try
        {
            return kind switch
            {
                "sgd" => new Sgd(Get("lr"), Get("momentum"), Get("dampening"), Get("weight_decay"), GetFlag("nesterov")) { WeightDecayExcludedRoles = excluded },
                "adam" => new Adam(Get("lr"), Get("beta1"), Get("beta2"), Get("eps"), Get("weight_decay"), GetFlag("amsgrad")) { WeightDecayExcludedRoles = excluded },
                "adamw" => new AdamW(Get("lr"), Get("beta1"), Get("beta2"), Get("eps"), Get("weight_decay"), GetFlag("amsgrad")) { WeightDecayExcludedRoles = excluded },
                "rmsprop" => new RmsProp(Get("lr"), Get("alpha"), Get("eps"), Get("weight_decay"), Get("momentum"), GetFlag("centered")) { WeightDecayExcludedRoles = excluded },
                _ => throw fail($"unknown optimiser '{kind}' (expected sgd, adam, adamw or rmsprop)"),
            };
        }
        catch (ArgumentException e)
        {
            throw fail($"the optimiser's hyperparameters are out of range: {e.Message}");
        }
    }

    /// <summary>A double as the shortest string that parses back to the same bits.</summary>
    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A metadata value, or the exception from <paramref name="fail"/> when it is absent.</summary>
    public static string Value(IReadOnlyDictionary<string, string> metadata, string key, Func<string, Exception> fail) =>
        metadata.TryGetValue(key, out string? value) ? value : throw fail($"metadata '{key}' is missing");

    /// <summary>A number written by <see cref="Number"/>; anything else is the exception from <paramref name="fail"/>.</summary>
    public static double ParseNumber(string text, string key, Func<string, Exception> fail) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            ? value
            : throw fail($"metadata '{key}' is '{text}', not a number");

    private static string Flag(bool value) => value ? "true" : "false";

    private static ParameterRole[] ParseRoles(string text, Func<string, Exception> fail)
    {
        if (text.Length == 0)
        {
            return [];
        }

        string[] names = text.Split(',');
        var roles = new ParameterRole[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            if (!Enum.TryParse(names[i], ignoreCase: false, out roles[i]) || !Enum.IsDefined(roles[i]) || int.TryParse(names[i], out _))
            {
                throw fail($"metadata '{Prefix}weight_decay_excluded' names an unknown role '{names[i]}'");
            }
        }

        return roles;
    }
}
