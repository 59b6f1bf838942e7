using System.Text;
using Rnn.Simd.Cells;
using Rnn.Simd.Cli.Data;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Runs;

/// <summary>
/// A character-level language model on a text file (char-rnn's set-up): embedding → recurrent stack → softmax over
/// the text's characters, trained on B contiguous streams in chunks of T characters with the state carried between
/// chunks; the last tenth of the text (at most 10 000 characters) is held out.
/// </summary>
internal sealed class TextRun : TrainingRun
{
    public const string VocabularyKey = "text.vocabulary";
    private const int MaxHeldOut = 10_000;

    private readonly LanguageModel _model;
    private readonly Trainer _trainer;
    private readonly int[] _train, _heldOut, _inputs, _targets, _groupInputs, _groupTargets;

    private TextRun(TrainSettings settings, string dataHash, CharacterVocabulary vocabulary, int[] ids, LanguageModel model, Trainer trainer)
        : base(settings, dataHash, Split(ids).Train.Length)
    {
        Vocabulary = vocabulary;
        (_train, _heldOut) = Split(ids);
        _model = model;
        _trainer = trainer;
        _inputs = new int[settings.Steps * settings.Batch];
        _targets = new int[_inputs.Length];
        _groupInputs = new int[_inputs.Length / settings.Accumulate];
        _groupTargets = new int[_inputs.Length / settings.Accumulate];
    }

    public CharacterVocabulary Vocabulary { get; }

    public override StatefulSequenceModel Model => _model;

    public override Trainer Trainer => _trainer;

    public override string LossUnit => "nats/char";

    public override string Task => "text";

    /// <summary>A new run: the vocabulary of the text, a model initialised from the seed.</summary>
    public static TextRun Start(string path, TrainSettings settings)
    {
        settings.Validate();
        (string text, string hash) = Read(path);
        CharacterVocabulary vocabulary = CharacterVocabulary.FromText(text);
        var options = new LanguageModelOptions
        {
            VocabularySize = vocabulary.Count,
            EmbeddingSize = settings.Embedding,
            Recurrent = settings.Recurrent,
            Dropout = settings.DropoutOptions,
        };
        var model = LanguageModel.Create(options, settings.Seed);
        return new TextRun(settings, hash, vocabulary, vocabulary.Encode(text), model, NewTrainer(model.Parameters, settings));
    }

    /// <summary>Continues a run from its checkpoint, on the same text; <paramref name="overrides"/> may change the update count, checkpoint cadence and threads.</summary>
    public static TextRun Resume(LoadedCheckpoint checkpoint, string path, TrainSettings overrides)
    {
        (string text, string hash) = Read(path);
        CheckCheckpoint(checkpoint, "text", hash, path);
        TrainSettings settings = ResumedSettings(checkpoint, overrides);
        var model = ModelOf<LanguageModel>(checkpoint);
        try
        {
            CharacterVocabulary vocabulary = VocabularyOf(checkpoint, model.Options);
            int[] ids;
            try
            {
                ids = vocabulary.Encode(text);
            }
            catch (ArgumentException e)
            {
                // The data's hash matched, so the checkpoint's vocabulary does not cover the text it was made from.
                throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' has a vocabulary that does not cover its own training text: {e.Message}");
            }

            TextRun run = Fitting(checkpoint, () => new TextRun(settings, hash, vocabulary, ids, model, TrainerOf(checkpoint, model.Parameters)));
            run.RestorePosition(checkpoint);
            return run;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The model of a checkpoint with its vocabulary, for sampling.</summary>
    public static (LanguageModelInference Model, CharacterVocabulary Vocabulary) Load(LoadedCheckpoint checkpoint)
    {
        if (Required(checkpoint, TaskKey) != "text")
        {
            throw new ArgumentException($"Checkpoint '{checkpoint.Source}' is not a text model.");
        }

        LanguageModelInference model = ServedOf<LanguageModel, LanguageModelInference>(checkpoint, m => m.ToInference());
        return (model, VocabularyOf(checkpoint, model.Options));
    }

    /// <summary>The checkpoint's vocabulary, which must have one character per row of the model's embedding.</summary>
    private static CharacterVocabulary VocabularyOf(LoadedCheckpoint checkpoint, SequenceModelOptions options)
    {
        CharacterVocabulary vocabulary = CharacterVocabulary.FromJson(Required(checkpoint, VocabularyKey));
        int expected = ((LanguageModelOptions)options).VocabularySize;
        if (vocabulary.Count != expected)
        {
            throw new InvalidDataException($"Checkpoint '{checkpoint.Source}' has a vocabulary of {vocabulary.Count} characters for a model of {expected}.");
        }

        return vocabulary;
    }

    public override double Validate(ThreadTeam? threads, WeightPrecision precision = WeightPrecision.Float32)
    {
        if (_heldOut.Length < 2)
        {
            return double.NaN;
        }

        LanguageModelInference model = _model.ToInference();
        if (precision != WeightPrecision.Float32)
        {
            model = new LanguageModelInference(model.Options, model.Embedding, model.Network.WithWeightPrecision(precision), model.Head);
        }

        return model.Evaluate(_heldOut, threads).MeanLoss;
    }

    public override string Preview(int length, ThreadTeam? threads)
    {
        TokenGenerator generator = _model.ToInference().CreateGenerator(new SamplingOptions { Temperature = 0.8f, Seed = Settings.Seed });
        generator.Prime(_train.AsSpan(0, 1), threads);
        var text = new StringBuilder();
        Vocabulary.Append(text, _train[0]);
        for (int i = 0; i < length; i++)
        {
            Vocabulary.Append(text, generator.Next(threads));
        }

        return text.ToString();
    }

    private protected override void FillChunk(int start) => Streams.Fill<int>(_train, start, _inputs, _targets);

    private protected override double TrainGroup(int group, int groups, ThreadTeam? threads)
    {
        int steps = Settings.Steps, batch = Settings.Batch;
        int[] inputs = Columns(_inputs, _groupInputs, group, groups, steps, batch), targets = Columns(_targets, _groupTargets, group, groups, steps, batch);
        return _model.ForwardBackward(inputs, steps, batch / groups, targets, threads: threads).Loss;
    }

    private protected override void AddMetadata(Dictionary<string, string> metadata) => metadata[VocabularyKey] = Vocabulary.ToJson();

    private static (string Text, string Hash) Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No text file '{path}'.");
        }

        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"'{path}' is not UTF-8 text.");
        }

        return (text.TrimStart('\uFEFF'), HashFile(path));
    }

    private static (int[] Train, int[] HeldOut) Split(int[] ids)
    {
        int heldOut = ids.Length >= 1000 ? Math.Min(ids.Length / 10, MaxHeldOut) : 0;
        return (ids[..(ids.Length - heldOut)], ids[(ids.Length - heldOut)..]);
    }
}
