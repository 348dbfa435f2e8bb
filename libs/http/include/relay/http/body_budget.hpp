#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace relay::http {

/// The memory that request bodies in flight may take in one process, shared by its listeners.
/// A request is charged for its body before any byte of it is read (Content-Length) or as its chunks
/// arrive (chunked); what cannot be charged is answered 503 with Retry-After instead of growing the
/// process towards an out-of-memory kill. Lock-free; safe from any thread.
class BodyBudget {
   public:
    /// 192 MiB: room for a few maximal (20 MiB) bodies beside hundreds of typical 20–500 KiB bundles in a
    /// 2-core pod with a 512 MiB–1 GiB memory limit.
    static constexpr std::uint64_t kDefaultBytes = 192ULL << 20;

    explicit BodyBudget(std::uint64_t capacity) : capacity_(capacity) {}
    BodyBudget(const BodyBudget&) = delete;
    BodyBudget& operator=(const BodyBudget&) = delete;

    /// Takes `bytes` if they fit, else takes nothing and returns false.
    [[nodiscard]] bool try_acquire(std::uint64_t bytes) {
        std::uint64_t used = used_.load(std::memory_order_relaxed);
        do {
            if (bytes > capacity_ || used > capacity_ - bytes) return false;
        } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
        return true;
    }
    void release(std::uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

    [[nodiscard]] std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t capacity() const { return capacity_; }

    /// The budget of servers that were not given one: one per process.
    static std::shared_ptr<BodyBudget> process_default() {
        static const auto budget = std::make_shared<BodyBudget>(kDefaultBytes);
        return budget;
    }

   private:
    const std::uint64_t capacity_;
    std::atomic<std::uint64_t> used_{0};
};

/// What one request holds of a BodyBudget; returns it when destroyed.
class BudgetLease {
   public:
    explicit BudgetLease(BodyBudget& budget) : budget_(&budget) {}
    ~BudgetLease() { budget_->release(held_); }
    BudgetLease(const BudgetLease&) = delete;
    BudgetLease& operator=(const BudgetLease&) = delete;

    /// Grows the lease to `total` bytes; false (and unchanged) when the budget cannot give them.
    [[nodiscard]] bool grow_to(std::uint64_t total) {
        if (total <= held_) return true;
        if (!budget_->try_acquire(total - held_)) return false;
        held_ = total;
        return true;
    }
    [[nodiscard]] std::uint64_t held() const { return held_; }

   private:
    BodyBudget* budget_;
    std::uint64_t held_ = 0;
};

}  // namespace relay::http
