/*
 * emu_runtime.h -- the host scheduler of the CUDA emulation (one translation unit: the build
 * generates a .cpp that includes this file, every kernel source and the kernel table).
 *
 * A launch runs the grid's blocks one after another.  Within a block:
 *
 *   barrier = 0 kernels (no __syncthreads): each thread is a plain call of the kernel function
 *     on the launcher's stack.  Calling __syncthreads there is an error (the registry is wrong),
 *     reported instead of silently running the block with the wrong semantics.
 *   barrier = 1 kernels: each thread is a user-level context (ucontext) with its own stack.  The
 *     scheduler resumes every live thread in turn; a thread runs until it calls __syncthreads()
 *     (it swaps back to the scheduler) or returns.  When all threads of the block have arrived,
 *     the next phase starts.  So every write made before a barrier is visible after it, and the
 *     code between two barriers runs with no interleaving.  A block where some threads have
 *     returned while others wait at a barrier is reported as divergent (undefined on a GPU).
 *
 * Why ucontext and not one OS thread per CUDA thread: deterministic, no locking or memory
 * ordering to reason about in the emulator itself, cheap for 1024-thread blocks, and barrier
 * divergence is detected exactly instead of deadlocking.  The cost (a context switch per thread
 * and barrier) is paid only by kernels registered with barrier = 1.
 *
 * Schedules (zk_emu_set_schedule): 0 = blocks and threads in index order, 1 = reverse order,
 * 2 = a seeded random permutation per launch (blocks) and per phase (threads).  Running a kernel
 * under several schedules and comparing the outputs exposes results that depend on the order of
 * threads between two barriers or of blocks (a race on a GPU).
 *
 * Stacks: 256 KiB per emulated thread (mmap'd once, with a PROT_NONE guard page below each, so an
 * overflow faults instead of corrupting a neighbour).  One launch at a time (a mutex).
 */
#ifndef ZK_EMU_RUNTIME_H
#define ZK_EMU_RUNTIME_H

#include "cuda_emu.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

zk_emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace zkemu {

struct BarrierOutsideCoop {}; /* thrown by __syncthreads in a barrier = 0 kernel */

enum { RUNNABLE = 0, AT_BARRIER = 1, DONE = 2 };

struct Thread {
    ucontext_t ctx;
    int state;
    unsigned barriers;
};

static const size_t STACK_BYTES = 256 * 1024;
static const unsigned MAX_BLOCK = 1024;

static bool g_coop = false;
static ucontext_t g_sched;
static Thread *g_cur = nullptr;
static std::vector<Thread> g_threads;
static char *g_stacks = nullptr;
static size_t g_stack_slots = 0, g_slot_bytes = 0;
static void (*g_body)(void **) = nullptr;
static void **g_args = nullptr;
static int g_mode = 0;
static uint64_t g_seed = 0x9e3779b97f4a7c15ULL;
static std::mutex g_lock;

static uint64_t rnd(void)
{
    /* xorshift64* */
    g_seed ^= g_seed >> 12;
    g_seed ^= g_seed << 25;
    g_seed ^= g_seed >> 27;
    return g_seed * 0x2545f4914f6cdd1dULL;
}

static void order(std::vector<unsigned> &o, unsigned n)
{
    o.resize(n);
    for (unsigned i = 0; i < n; i++) o[i] = g_mode == 1 ? n - 1 - i : i;
    if (g_mode == 2)
        for (unsigned i = n; i > 1; i--) std::swap(o[i - 1], o[rnd() % i]);
}

static bool ensure_stacks(unsigned n)
{
    if (n <= g_stack_slots) return true;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t slot = STACK_BYTES + page;
    void *mem = mmap(nullptr, slot * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (mem == MAP_FAILED) return false;
    for (unsigned i = 0; i < n; i++) mprotect((char *)mem + i * slot, page, PROT_NONE);
    if (g_stacks) munmap(g_stacks, g_slot_bytes * g_stack_slots);
    g_stacks = (char *)mem;
    g_slot_bytes = slot;
    g_stack_slots = n;
    return true;
}

static void thread_entry(void)
{
    g_body(g_args);
    g_cur->state = DONE; /* returns to uc_link = the scheduler */
}

/* Runs one block as cooperative contexts; returns an error message or "". */
static std::string run_block_coop(unsigned nthreads)
{
    if (!ensure_stacks(nthreads)) return "cannot map the emulated threads' stacks";
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    g_threads.resize(nthreads);
    for (unsigned t = 0; t < nthreads; t++) {
        Thread &th = g_threads[t];
        getcontext(&th.ctx);
        th.ctx.uc_stack.ss_sp = g_stacks + t * g_slot_bytes + page;
        th.ctx.uc_stack.ss_size = STACK_BYTES;
        th.ctx.uc_link = &g_sched;
        makecontext(&th.ctx, thread_entry, 0);
        th.state = RUNNABLE;
        th.barriers = 0;
    }
    std::vector<unsigned> perm;
    g_coop = true;
    for (unsigned phase = 0;; phase++) {
        order(perm, nthreads);
        for (unsigned t : perm) {
            Thread &th = g_threads[t];
            if (th.state == DONE) continue;
            th.state = RUNNABLE;
            g_cur = &th;
            threadIdx.x = t;
            swapcontext(&g_sched, &th.ctx);
        }
        unsigned done = 0, waiting = 0, first_done = 0, first_wait = 0;
        for (unsigned t = 0; t < nthreads; t++) {
            if (g_threads[t].state == DONE) { if (!done++) first_done = t; }
            else if (!waiting++) first_wait = t;
        }
        if (!waiting) break;
        if (done) {
            g_coop = false;
            char msg[256];
            snprintf(msg, sizeof msg,
                     "divergent __syncthreads in block %u: thread %u returned while %u thread(s) "
                     "(thread %u first) wait at barrier #%u",
                     blockIdx.x, first_done, waiting, first_wait, phase + 1);
            return msg;
        }
    }
    g_coop = false;
    return "";
}

/* ---- kernel table: argument unpacking like cuLaunchKernel (args[i] points to parameter i) ---- */

template <typename T> struct ArgCode;
template <typename T> struct ArgCode<T *> { static const char *s() { return "ptr"; } };
template <> struct ArgCode<unsigned long> { static const char *s() { return sizeof(unsigned long) == 8 ? "u64" : "u32"; } };
template <> struct ArgCode<unsigned long long> { static const char *s() { return "u64"; } };
template <> struct ArgCode<long> { static const char *s() { return sizeof(long) == 8 ? "i64" : "i32"; } };
template <> struct ArgCode<long long> { static const char *s() { return "i64"; } };
template <> struct ArgCode<int> { static const char *s() { return "i32"; } };
template <> struct ArgCode<unsigned> { static const char *s() { return "u32"; } };

template <typename... A, size_t... I>
static void call_impl(void (*k)(A...), void **args, std::index_sequence<I...>)
{
    k(*static_cast<typename std::remove_cv<A>::type *>(args[I])...);
}

template <typename... A> static void call(void (*k)(A...), void **args)
{
    call_impl(k, args, std::index_sequence_for<A...>{});
}

template <typename... A> static std::string signature(void (*)(A...))
{
    std::string s;
    const char *codes[] = {ArgCode<typename std::remove_cv<A>::type>::s()..., ""};
    for (size_t i = 0; i < sizeof...(A); i++) {
        if (i) s += ",";
        s += codes[i];
    }
    return s;
}

struct Entry {
    const char *name;
    void (*call)(void **);
    std::string (*sig)(void);
    int barrier;
};

} /* namespace zkemu */

#define ZK_EMU_KERNEL(k, barrier)                                                    \
    {                                                                                \
        #k, [](void **a) { zkemu::call(k, a); }, [] { return zkemu::signature(k); }, \
            barrier                                                                  \
    }

void __syncthreads(void)
{
    using namespace zkemu;
    if (!g_coop) throw BarrierOutsideCoop();
    g_cur->state = AT_BARRIER;
    g_cur->barriers++;
    swapcontext(&g_cur->ctx, &g_sched);
}

/* defined by the generated translation unit */
extern const zkemu::Entry zk_emu_entries[];
extern const int zk_emu_nentries;

static const zkemu::Entry *zk_emu_find(const char *name)
{
    for (int i = 0; i < zk_emu_nentries; i++)
        if (!strcmp(zk_emu_entries[i].name, name)) return &zk_emu_entries[i];
    return nullptr;
}

static int zk_emu_fail(char *err, size_t errlen, const std::string &msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg.c_str());
    return -1;
}

extern "C" {

int zk_emu_count(void) { return zk_emu_nentries; }

const char *zk_emu_name(int i) { return i >= 0 && i < zk_emu_nentries ? zk_emu_entries[i].name : nullptr; }

/* comma-separated parameter kinds (ptr, u64, i64, u32, i32) and the barrier flag; -1: unknown */
int zk_emu_signature(const char *name, char *buf, size_t len)
{
    const zkemu::Entry *e = zk_emu_find(name);
    if (!e) return -1;
    snprintf(buf, len, "%s", e->sig().c_str());
    return e->barrier;
}

void zk_emu_set_schedule(int mode, unsigned long long seed)
{
    std::lock_guard<std::mutex> g(zkemu::g_lock);
    zkemu::g_mode = mode;
    zkemu::g_seed = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

/* Runs kernel `name` over grid x block threads; args as for cuLaunchKernel.  0 or -1 (message in err). */
int zk_emu_launch(const char *name, unsigned grid, unsigned block, void **args, char *err, size_t errlen)
{
    using namespace zkemu;
    std::lock_guard<std::mutex> g(g_lock);
    const Entry *e = zk_emu_find(name);
    if (!e) return zk_emu_fail(err, errlen, std::string("unknown kernel ") + name);
    if (!grid || !block || block > MAX_BLOCK)
        return zk_emu_fail(err, errlen, std::string(name) + ": invalid launch configuration (grid " +
                                            std::to_string(grid) + ", block " + std::to_string(block) + ")");
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    threadIdx = {0, 0, 0};
    g_body = e->call;
    g_args = args;
    std::vector<unsigned> blocks, threads;
    order(blocks, grid);
    try {
        for (unsigned b : blocks) {
            blockIdx = {b, 0, 0};
            if (e->barrier) {
                std::string msg = run_block_coop(block);
                if (!msg.empty()) return zk_emu_fail(err, errlen, std::string(name) + ": " + msg);
            } else {
                order(threads, block);
                for (unsigned t : threads) {
                    threadIdx.x = t;
                    e->call(args);
                }
            }
        }
    } catch (const BarrierOutsideCoop &) {
        g_coop = false;
        return zk_emu_fail(err, errlen, std::string(name) +
                                            ": __syncthreads() in a kernel registered with barrier=False "
                                            "(prover_gpu/kernels.py)");
    }
    return 0;
}

} /* extern "C" */

#endif /* ZK_EMU_RUNTIME_H */
