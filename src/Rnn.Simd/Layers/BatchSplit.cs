using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Layers;

/// <summary>A walk through every step of a recurrence for some rows of the batch (<see cref="BatchSplit"/>).</summary>
internal unsafe interface IBatchRows
{
    /// <summary>Runs batch rows <paramref name="b0"/> … <paramref name="b0"/> + <paramref name="rows"/> − 1 of the walk <paramref name="self"/> with <paramref name="arguments"/>.</summary>
    static abstract void RunRows(void* self, void* arguments, int b0, int rows);
}

/// <summary>
/// Training on a team: every sequence's recurrence is its own, so each thread runs the whole walk (forward, or back
/// through time) for its rows of the batch, one dispatch for all the steps instead of several a step. The results are
/// those of one thread: each row's values are the same chains whichever rows share its products.
/// </summary>
internal static unsafe class BatchSplit
{
    /// <summary>
    /// The parts of a walk: one per thread from two sequences per thread and a step's products large enough to split
    /// (<see cref="GemmBlocking.MinParallelMacs"/>), when rows share nothing (<paramref name="rowsShareNothing"/>, and no
    /// projection, GRU reset-before or ONNX extras, whose steps use whole-batch scratch); else 1.
    /// </summary>
    public static int Parts(ThreadTeam? team, RecurrentNetworkOptions o, int batch, bool rowsShareNothing)
    {
        if (!rowsShareNothing || team is null || team.ThreadCount < 2 || o.ProjectionSize > 0 || o.IsExtended
            || (o.Cell == CellType.Gru && o.GruVariant != GruVariant.ResetAfter))
        {
            return 1;
        }

        long macs = (long)batch * o.Gates * o.HiddenSize * o.OutputSize;
        return macs < GemmBlocking.MinParallelMacs ? 1 : Math.Min(team.ThreadCount, batch / 2);
    }

    /// <summary>Runs <typeparamref name="TRows"/> over <paramref name="parts"/> contiguous row ranges on <paramref name="team"/> (everything behind the pointers pinned by the caller).</summary>
    public static void Run<TRows>(ThreadTeam team, int parts, int batch, void* self, void* arguments)
        where TRows : IBatchRows, allows ref struct
    {
        var job = new Job<TRows> { Self = self, Arguments = arguments, Batch = batch, Parts = parts };
        team.Run(ref job, parts);
    }

    private struct Job<TRows> : IParallelJob
        where TRows : IBatchRows, allows ref struct
    {
        public void* Self, Arguments;
        public int Batch, Parts;

        public readonly void Execute(int part)
        {
            int b0 = (int)((long)Batch * part / Parts), b1 = (int)((long)Batch * (part + 1) / Parts);
            TRows.RunRows(Self, Arguments, b0, b1 - b0);
        }
    }
}
