namespace Rnn.Simd.Kernels.Threading;

/// <summary>Work over an index range [start, end) whose indices write disjoint outputs (rows, columns).</summary>
internal interface IRangeWork
{
    /// <summary>Processes indices <paramref name="start"/> … <paramref name="end"/> − 1.</summary>
    void Run(int start, int end);
}

/// <summary>
/// Splits an index range into contiguous parts, one per thread of a <see cref="ThreadTeam"/>. Each index is processed
/// exactly as it would be on one thread, so results do not depend on the split. Allocates nothing.
/// </summary>
internal static class RangeParallel
{
    /// <summary>Runs <paramref name="work"/> over [0, <paramref name="count"/>), in parts of at least <paramref name="minimumPerPart"/>.</summary>
    public static void Run<TWork>(ThreadTeam? team, int count, int minimumPerPart, ref TWork work)
        where TWork : struct, IRangeWork
    {
        int parts = team is null ? 1 : Math.Clamp(count / Math.Max(1, minimumPerPart), 1, team.ThreadCount);
        if (parts == 1)
        {
            work.Run(0, count);
            return;
        }

        var job = new Job<TWork> { Work = work, Count = count, Parts = parts };
        team!.Run(ref job, parts);
    }

    private struct Job<TWork> : IParallelJob
        where TWork : struct, IRangeWork
    {
        public TWork Work;
        public int Count;
        public int Parts;

        public void Execute(int part)
        {
            int start = (int)((long)Count * part / Parts), end = (int)((long)Count * (part + 1) / Parts);
            Work.Run(start, end);
        }
    }
}
