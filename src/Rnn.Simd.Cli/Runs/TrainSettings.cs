using System.Globalization;
using System.Text.Json;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Runs;

/// <summary>
/// The settings of a <c>train</c> run. Saved in every checkpoint; a resumed run takes them from there, except
/// <see cref="Updates"/>, <see cref="Every"/>, <see cref="Keep"/> and <see cref="Threads"/>, which the command line
/// may change (the thread count never changes the bits).
/// </summary>
internal sealed record TrainSettings
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>rnn_tanh, rnn_relu, lstm or gru.</summary>
    public string Cell { get; init; } = "lstm";

    public int Hidden { get; init; } = 128;

    public int Layers { get; init; } = 1;

    /// <summary>The embedding size of a text model (unused for series).</summary>
    public int Embedding { get; init; } = 32;

    /// <summary>T, the steps per chunk (the truncation length of BPTT).</summary>
    public int Steps { get; init; } = 64;

    /// <summary>B, the parallel streams.</summary>
    public int Batch { get; init; } = 16;

    public double LearningRate { get; init; } = 3e-3;

    /// <summary>The global gradient-norm clip (0: none).</summary>
    public double Clip { get; init; } = 5;

    /// <summary>The update count the run stops at.</summary>
    public long Updates { get; init; } = 2000;

    /// <summary>Save a checkpoint every this many updates.</summary>
    public long Every { get; init; } = 250;

    /// <summary>Checkpoints kept (the newest).</summary>
    public int Keep { get; init; } = 3;

    public ulong Seed { get; init; } = 1;

    public int Threads { get; init; } = 1;

    /// <summary>Measure the held-out loss every this many updates (0: only at the end); each measurement that beats the
    /// best so far writes <c>best.safetensors</c>.</summary>
    public long ValidEvery { get; init; } = 250;

    /// <summary>Stop after this many held-out measurements in a row without a better loss (0: never stop early).</summary>
    public int Patience { get; init; }

    /// <summary>constant, cosine (to <see cref="MinLearningRate"/> at <see cref="ScheduleUpdates"/>) or plateau (×
    /// <see cref="PlateauFactor"/> after <see cref="PlateauPatience"/> measurements without a better held-out loss).</summary>
    public string Schedule { get; init; } = "constant";

    /// <summary>Updates of linear warm-up (from lr / warm-up to lr) before the schedule (0: none).</summary>
    public long Warmup { get; init; }

    /// <summary>The least learning rate of the cosine and plateau schedules.</summary>
    public double MinLearningRate { get; init; }

    /// <summary>The update at which the cosine schedule reaches <see cref="MinLearningRate"/>: the run's update count when
    /// it started (fixed, so that a resumed run that trains longer keeps the same rates).</summary>
    public long ScheduleUpdates { get; init; }

    public double PlateauFactor { get; init; } = 0.5;

    public int PlateauPatience { get; init; } = 2;

    /// <summary>Decoupled weight decay (AdamW; biases excluded); 0: Adam without decay.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Dropout between stacked layers (PyTorch's <c>nn.LSTM(dropout=p)</c>); needs 2 or more layers.</summary>
    public double Dropout { get; init; }

    /// <summary>Dropout on the stack's output, before the head.</summary>
    public double OutputDropout { get; init; }

    /// <summary>DropConnect on the recurrent weights W_hh, one mask per update.</summary>
    public double WeightDrop { get; init; }

    /// <summary>Dropout of whole rows of the character embedding, one mask per update (text only).</summary>
    public double EmbeddingDropout { get; init; }

    /// <summary>Variational dropout of every layer's input: one mask per stream and layer, the same at every step of a chunk.</summary>
    public double InputDropout { get; init; }

    /// <summary>Recurrent (variational) dropout of h_{t−1} in the recurrent products: one mask per stream and layer, the same at every step of a chunk.</summary>
    public double RecurrentDropout { get; init; }

    /// <summary>The model's dropout (keyed by <see cref="Seed"/>), or null when every rate is 0.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public DropoutOptions? DropoutOptions => Dropout == 0 && OutputDropout == 0 && WeightDrop == 0 && EmbeddingDropout == 0 && InputDropout == 0 && RecurrentDropout == 0 ? null : new()
    {
        Dropout = (float)Dropout, OutputDropout = (float)OutputDropout, WeightDrop = (float)WeightDrop, EmbeddingDropout = (float)EmbeddingDropout,
        InputDropout = (float)InputDropout, RecurrentDropout = (float)RecurrentDropout, Seed = Seed,
    };

    public string ToJson() => JsonSerializer.Serialize(this with { Threads = 1 }, s_json);

    public static TrainSettings FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainSettings>(json, s_json) ?? throw new InvalidDataException("The checkpoint's training settings are empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The checkpoint's training settings are not valid: {e.Message}");
        }
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        Require(Cell is "rnn_tanh" or "rnn_relu" or "lstm" or "gru", "--cell", $"must be rnn_tanh, rnn_relu, lstm or gru, was '{Cell}'");
        Require(Hidden is >= 1 and <= 8192, "--hidden", $"must be 1 … 8192, was {Hidden}");
        Require(Layers is >= 1 and <= 16, "--layers", $"must be 1 … 16, was {Layers}");
        Require(Embedding is >= 1 and <= 8192, "--embedding", $"must be 1 … 8192, was {Embedding}");
        Require(Steps is >= 1 and <= 100_000, "--steps", $"must be 1 … 100000, was {Steps}");
        Require(Batch is >= 1 and <= 4096, "--batch", $"must be 1 … 4096, was {Batch}");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, "--lr", $"must be a positive number, was {Num(LearningRate)}");
        Require(double.IsFinite(Clip) && Clip >= 0, "--clip", $"must be ≥ 0 (0: no clipping), was {Num(Clip)}");
        Require(Updates >= 0, "--updates", $"must be ≥ 0, was {Updates}");
        Require(Every >= 1, "--every", $"must be ≥ 1, was {Every}");
        Require(Keep >= 1, "--keep", $"must be ≥ 1, was {Keep}");
        Require(Threads is >= 1 and <= 256, "--threads", $"must be 1 … 256, was {Threads}");
        Require(ValidEvery >= 0, "--valid-every", $"must be ≥ 0 (0: only at the end), was {ValidEvery}");
        Require(Patience >= 0, "--patience", $"must be ≥ 0 (0: never stop early), was {Patience}");
        Require(Patience == 0 || ValidEvery > 0, "--patience", "needs --valid-every > 0 (held-out measurements to count)");
        Require(Schedule is "constant" or "cosine" or "plateau", "--schedule", $"must be constant, cosine or plateau, was '{Schedule}'");
        Require(Schedule != "plateau" || ValidEvery > 0, "--schedule plateau", "needs --valid-every > 0 (held-out measurements to watch)");
        Require(Warmup >= 0 && Warmup <= 100_000_000, "--warmup", $"must be 0 … 100000000 updates, was {Warmup}");
        Require(double.IsFinite(MinLearningRate) && MinLearningRate >= 0 && MinLearningRate <= LearningRate, "--min-lr", $"must be in [0, --lr], was {Num(MinLearningRate)}");
        Require(ScheduleUpdates >= 0, "schedule updates", $"must be ≥ 0, was {ScheduleUpdates}");
        Require(double.IsFinite(PlateauFactor) && PlateauFactor > 0 && PlateauFactor < 1, "--plateau-factor", $"must be in (0, 1), was {Num(PlateauFactor)}");
        Require(PlateauPatience >= 0, "--plateau-patience", $"must be ≥ 0, was {PlateauPatience}");
        Require(double.IsFinite(WeightDecay) && WeightDecay >= 0, "--weight-decay", $"must be ≥ 0, was {Num(WeightDecay)}");
        RequireRate(Dropout, "--dropout");
        Require(Dropout == 0 || Layers > 1, "--dropout", $"drops between stacked layers and needs --layers ≥ 2, was {Layers} (for one layer use --output-dropout)");
        RequireRate(OutputDropout, "--output-dropout");
        RequireRate(WeightDrop, "--weight-drop");
        RequireRate(EmbeddingDropout, "--embedding-dropout");
        RequireRate(InputDropout, "--input-dropout");
        RequireRate(RecurrentDropout, "--recurrent-dropout");
    }

    public CellType CellType => Cell switch { "lstm" => Cells.CellType.Lstm, "gru" => Cells.CellType.Gru, _ => Cells.CellType.Rnn };

    public Nonlinearity Nonlinearity => Cell == "rnn_relu" ? Cells.Nonlinearity.Relu : Cells.Nonlinearity.Tanh;

    /// <summary>The recurrent stack these settings describe (its input size is the model's step features).</summary>
    public RecurrentNetworkOptions Recurrent => new() { Cell = CellType, Nonlinearity = Nonlinearity, HiddenSize = Hidden, Layers = Layers };

    private static string Num(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static void RequireRate(double rate, string option) =>
        Require(rate >= 0 && rate < 1, option, $"must be in [0, 1), was {Num(rate)}");

    private static void Require(bool condition, string option, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"{option} {message}.");
        }
    }
}
