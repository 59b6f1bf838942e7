using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Rnn.Simd.Cli.Runs;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Threading;
using Spectre.Console;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>rnn-simd train</c>: a character-level language model on a text file, or a forecaster on one column of a CSV
/// file, with checkpoints every N updates, a checkpoint on Ctrl+C, and <c>--resume</c> continuing bit for bit.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var text = new Option<FileInfo?>("--text") { Description = "Train a character-level language model on this UTF-8 text file." };
        var csv = new Option<FileInfo?>("--csv") { Description = "Train a next-value forecaster on one column of this CSV file (with --column)." };
        var column = new Option<string?>("--column") { Description = "The CSV column: a header name or a 0-based index." };
        var output = new Option<DirectoryInfo?>("--out") { Description = "The run's checkpoint directory (default: runs/<data file name>)." };
        var resume = new Option<string?>("--resume") { Description = "Continue from the newest checkpoint of --out, or from the given checkpoint file.", Arity = ArgumentArity.ZeroOrOne };
        var cell = new Option<string>("--cell") { Description = "The cell.", DefaultValueFactory = _ => "lstm" };
        cell.AcceptOnlyFromAmong("rnn_tanh", "rnn_relu", "lstm", "gru");
        var hidden = new Option<int>("--hidden") { Description = "Hidden size.", DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { Description = "Stacked layers.", DefaultValueFactory = _ => 1 };
        var embedding = new Option<int>("--embedding") { Description = "Character embedding size (text).", DefaultValueFactory = _ => 32 };
        var steps = new Option<int>("--steps") { Description = "Steps per chunk: the truncation length of BPTT.", DefaultValueFactory = _ => 64 };
        var batch = new Option<int>("--batch") { Description = "Parallel streams per update.", DefaultValueFactory = _ => 16 };
        var learningRate = new Option<double>("--lr") { Description = "Adam's learning rate.", DefaultValueFactory = _ => 3e-3 };
        var clip = new Option<double>("--clip") { Description = "Clip the gradients' global norm to this (0: off).", DefaultValueFactory = _ => 5 };
        var updates = new Option<long>("--updates") { Description = "Train until this many updates (a resumed run may raise it).", DefaultValueFactory = _ => 2000 };
        var every = new Option<long>("--every") { Description = "Save a checkpoint every this many updates.", DefaultValueFactory = _ => 250 };
        var keep = new Option<int>("--keep") { Description = "Checkpoints kept (the newest).", DefaultValueFactory = _ => 3 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initial weights and of the preview's sampling.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Threads for the matrix products (the results do not depend on it).", DefaultValueFactory = _ => 1 };
        var plain = new Option<bool>("--plain") { Description = "Plain text output (also when the output is not a terminal)." };
        var json = new Option<FileInfo?>("--json") { Description = "Write a JSON summary of the run to this file." };
        var validEvery = new Option<long>("--valid-every") { Description = "Measure the held-out loss every this many updates and keep the best checkpoint (best.safetensors); 0: only at the end.", DefaultValueFactory = _ => 250 };
        var patience = new Option<int>("--patience") { Description = "Stop early after this many held-out measurements in a row without a better loss (0: never)." };
        var schedule = new Option<string>("--schedule") { Description = "The learning-rate schedule after the warm-up.", DefaultValueFactory = _ => "constant" };
        schedule.AcceptOnlyFromAmong("constant", "cosine", "plateau");
        var warmup = new Option<long>("--warmup") { Description = "Updates of linear learning-rate warm-up (0: none)." };
        var minLearningRate = new Option<double>("--min-lr") { Description = "The least learning rate of the cosine and plateau schedules." };
        var plateauFactor = new Option<double>("--plateau-factor") { Description = "--schedule plateau: the factor the rate is multiplied by.", DefaultValueFactory = _ => 0.5 };
        var plateauPatience = new Option<int>("--plateau-patience") { Description = "--schedule plateau: held-out measurements without improvement before the rate is lowered.", DefaultValueFactory = _ => 2 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Decoupled weight decay (AdamW; biases excluded); 0: Adam." };
        var dropout = new Option<double>("--dropout") { Description = "Dropout between stacked layers (training only; needs --layers ≥ 2)." };
        var outputDropout = new Option<double>("--output-dropout") { Description = "Dropout on the recurrent stack's output, before the head (training only)." };
        var weightDrop = new Option<double>("--weight-drop") { Description = "DropConnect on the recurrent weights W_hh, one mask per update (training only)." };
        var embeddingDropout = new Option<double>("--embedding-dropout") { Description = "Dropout of whole character-embedding rows, one mask per update (--text; training only)." };
        var inputDropout = new Option<double>("--input-dropout") { Description = "Variational dropout of every layer's input: one mask per stream and layer, the same at every step (training only)." };
        var recurrentDropout = new Option<double>("--recurrent-dropout") { Description = "Variational dropout of h(t-1) in the recurrent products: one mask per stream and layer, the same at every step (training only)." };
        var accumulate = new Option<int>("--accumulate") { Description = "Gradient accumulation: train the --batch streams as this many micro-batches per update (it must divide --batch); the update equals the whole batch's.", DefaultValueFactory = _ => 1 };
        var plot = new Option<FileInfo?>("--plot") { Description = "Draw the training and held-out losses and the learning rate against the updates to this PNG file." };
        var command = new Command("train", "Train a character-level language model on a text file, or a forecaster on a CSV column, with checkpoints; Ctrl+C saves one.")
        {
            text, csv, column, output, resume, cell, hidden, layers, embedding, steps, batch, learningRate, clip, updates, every, keep, seed, threads, plain, json,
            validEvery, patience, schedule, warmup, minLearningRate, plateauFactor, plateauPatience, weightDecay, plot,
            dropout, outputDropout, weightDrop, embeddingDropout, inputDropout, recurrentDropout, accumulate,
        };
        command.SetAction(result =>
        {
            var settings = new TrainSettings
            {
                Cell = result.GetValue(cell)!, Hidden = result.GetValue(hidden), Layers = result.GetValue(layers), Embedding = result.GetValue(embedding),
                Steps = result.GetValue(steps), Batch = result.GetValue(batch), LearningRate = result.GetValue(learningRate), Clip = result.GetValue(clip),
                Updates = result.GetValue(updates), Every = result.GetValue(every), Keep = result.GetValue(keep), Seed = result.GetValue(seed),
                Threads = result.GetValue(threads), ValidEvery = result.GetValue(validEvery), Patience = result.GetValue(patience),
                Schedule = result.GetValue(schedule)!, Warmup = result.GetValue(warmup), MinLearningRate = result.GetValue(minLearningRate),
                PlateauFactor = result.GetValue(plateauFactor), PlateauPatience = result.GetValue(plateauPatience), WeightDecay = result.GetValue(weightDecay),
                Dropout = result.GetValue(dropout), OutputDropout = result.GetValue(outputDropout), WeightDrop = result.GetValue(weightDrop),
                EmbeddingDropout = result.GetValue(embeddingDropout), InputDropout = result.GetValue(inputDropout),
                RecurrentDropout = result.GetValue(recurrentDropout), Accumulate = result.GetValue(accumulate),
            };
            var request = new TrainRequest(
                result.GetValue(text)?.FullName, result.GetValue(csv)?.FullName, result.GetValue(column), result.GetValue(output)?.FullName,
                result.GetResult(resume) is not null, result.GetValue(resume), settings, result.GetValue(json)?.FullName) { Plot = result.GetValue(plot)?.FullName };
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;     // finish the update, save a checkpoint, then exit
                cancel.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                bool rich = !result.GetValue(plain) && !Console.IsOutputRedirected;
                TrainView view = rich ? new RichTrainView(AnsiConsole.Console) : new PlainTrainView(Console.Out);
                return Execute(request, view, cancel.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        });
        return command;
    }

    /// <summary>Runs (or resumes) a training run; 0 when it reached its update count, 130 when cancelled (after saving).</summary>
    internal static int Execute(TrainRequest request, TrainView view, CancellationToken cancel)
    {
        if ((request.Text is null) == (request.Csv is null))
        {
            throw new ArgumentException("Give exactly one of --text FILE or --csv FILE (with --column).");
        }

        string data = (request.Text ?? request.Csv)!;
        string directory = request.Out ?? Path.Combine("runs", Path.GetFileNameWithoutExtension(data));
        request.Settings.Validate();
        if (request.Csv is not null && request.Settings.EmbeddingDropout > 0)
        {
            throw new ArgumentException("--embedding-dropout applies to --text models (a series has no embedding).");
        }

        using TrainingRun run = Open(request, data, directory);
        var folder = new CheckpointFolder(directory, run.Settings.Keep);
        using ThreadTeam? team = run.Settings.Threads > 1 ? new ThreadTeam(run.Settings.Threads) : null;
        TrainSettings settings = run.Settings;
        TrainingHistory history = run.History;
        var rates = new LearningRatePlan(settings, history);

        view.Line(run.Step == 0
            ? $"{run.Task} model: {run.Model.Parameters.Length:N0} parameters; {run.Streams.Batch} streams × {run.Streams.Steps} steps; {run.Streams.ChunksPerEpoch} updates per epoch; checkpoints in {folder.Directory}"
            : $"resuming at update {run.Step} from {folder.Directory}");
        var clock = Stopwatch.StartNew();
        long start = run.Step, lastSaved = run.Step;
        double loss = double.NaN;
        string? saved = null;
        bool stoppedEarly = settings.Patience > 0 && history.SinceBest >= settings.Patience;
        view.Run($"training to update {settings.Updates} ({run.LossUnit})", start, settings.Updates, report =>
        {
            while (run.Step < settings.Updates && !cancel.IsCancellationRequested && !stoppedEarly)
            {
                double rate = rates.RateFor(run.Step);
                run.Trainer.Optimizer.LearningRate = rate;
                loss = run.TrainOne(team);
                history.AddTraining(run.Step, loss, rate);
                report(run.Step, loss);
                if (settings.ValidEvery > 0 && run.Step % settings.ValidEvery == 0)
                {
                    double measured = run.Validate(team);
                    bool best = history.AddHeldOut(run.Step, measured, rate);
                    rates.Measured(measured);
                    if (best)
                    {
                        folder.SaveBest(run.ToCheckpoint());
                    }

                    view.Measured(run.Step, measured, best);
                    stoppedEarly = settings.Patience > 0 && history.SinceBest >= settings.Patience;
                }

                if (run.Step % settings.Every == 0 || stoppedEarly)
                {
                    saved = folder.Save(run.Step, run.ToCheckpoint());
                    lastSaved = run.Step;
                }
            }
        });

        if (lastSaved != run.Step || saved is null)
        {
            saved = folder.Save(run.Step, run.ToCheckpoint());
        }

        double seconds = clock.Elapsed.TotalSeconds;
        double heldOut = history.HeldOut.Count > 0 && history.HeldOut[^1].Update == run.Step ? history.HeldOut[^1].Loss : run.Validate(team);
        view.Line(string.Create(CultureInfo.InvariantCulture,
            $"update {run.Step}: training loss {TrainView.Format(loss)}, held-out loss {TrainView.Format(heldOut)} {run.LossUnit}; {run.Step - start} updates in {seconds:F1} s; saved {saved}"));
        if (history.BestUpdate >= 0)
        {
            view.Line(string.Create(CultureInfo.InvariantCulture,
                $"best held-out loss {TrainView.Format(history.BestLoss)} at update {history.BestUpdate}: {folder.BestPath}"));
        }

        // The same held-out data through inference snapshots with bf16 and int8 recurrent weights (perf/results/precision.md).
        double heldOutBFloat16 = run.Validate(team, WeightPrecision.BFloat16), heldOutInt8 = run.Validate(team, WeightPrecision.Int8);
        view.Line(string.Create(CultureInfo.InvariantCulture,
            $"held-out loss with reduced recurrent weights: bf16 {TrainView.Format(heldOutBFloat16)}, int8 {TrainView.Format(heldOutInt8)} {run.LossUnit}"));
        if (stoppedEarly)
        {
            view.Line($"stopped early: no better held-out loss in {settings.Patience} measurements (every {settings.ValidEvery} updates)");
        }

        view.Line("sample: " + run.Preview(160, team).ReplaceLineEndings(" ⏎ "));
        if (request.Plot is not null)
        {
            TrainPlot.Save(request.Plot, history, run.LossUnit, $"{run.Task} model, {settings.Cell} {settings.Layers}×{settings.Hidden}{DescribeDropout(settings)}: {Path.GetFileName(data)}");
            view.Line($"plot: {request.Plot}");
        }

        if (request.Json is not null)
        {
            var summary = new
            {
                task = run.Task, data, checkpoint = saved, updates = run.Step, final_loss = Finite(loss), held_out_loss = Finite(heldOut),
                held_out_loss_bf16 = Finite(heldOutBFloat16), held_out_loss_int8 = Finite(heldOutInt8),
                best_held_out_loss = Finite(history.BestLoss), best_update = history.BestUpdate >= 0 ? history.BestUpdate : (long?)null,
                best_checkpoint = history.BestUpdate >= 0 ? folder.BestPath : null, stopped_early = stoppedEarly,
                learning_rate = run.Trainer.Optimizer.LearningRate,
                loss_unit = run.LossUnit, seconds, interrupted = cancel.IsCancellationRequested,
                held_out = history.HeldOut.Select(p => new { update = p.Update, loss = Finite(p.Loss), learning_rate = p.LearningRate }),
            };
            File.WriteAllText(request.Json, JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        }

        if (cancel.IsCancellationRequested)
        {
            view.Line($"interrupted at update {run.Step}; continue with: rnn-simd train {(request.Text is null ? "--csv" : "--text")} \"{data}\" --out \"{folder.Directory}\" --resume");
            return 130;
        }

        return 0;
    }

    /// <summary>", dropout 0.3, weight drop 0.5" for the rates above 0; empty without dropout.</summary>
    private static string DescribeDropout(TrainSettings s)
    {
        string parts = string.Join(", ", new[] { ("dropout", s.Dropout), ("output dropout", s.OutputDropout), ("weight drop", s.WeightDrop), ("embedding dropout", s.EmbeddingDropout), ("input dropout", s.InputDropout), ("recurrent dropout", s.RecurrentDropout) }
            .Where(p => p.Item2 > 0).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Item1} {p.Item2}")));
        return parts.Length == 0 ? "" : ", " + parts;
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static TrainingRun Open(TrainRequest request, string data, string directory)
    {
        if (!request.Resume)
        {
            if (CheckpointFolder.List(directory).Count > 0)
            {
                throw new ArgumentException($"'{directory}' already holds checkpoints: continue with --resume, or choose another --out.");
            }

            // The cosine schedule's length is fixed when a run starts: a resumed run that trains longer keeps its rates.
            TrainSettings settings = request.Settings with { ScheduleUpdates = request.Settings.Updates };
            return request.Text is not null ? TextRun.Start(data, settings) : SeriesRun.Start(data, request.Column, settings);
        }

        LoadedCheckpoint checkpoint = CheckpointFolder.Open(request.ResumeFrom ?? directory);
        return request.Text is not null ? TextRun.Resume(checkpoint, data, request.Settings) : SeriesRun.Resume(checkpoint, data, request.Column, request.Settings);
    }
}

/// <summary>What <c>train</c> was asked: the data, where checkpoints go, whether to resume (and from which file), the settings.</summary>
internal sealed record TrainRequest(string? Text, string? Csv, string? Column, string? Out, bool Resume, string? ResumeFrom, TrainSettings Settings, string? Json)
{
    /// <summary>A PNG file for the loss curves, or null.</summary>
    public string? Plot { get; init; }
}
