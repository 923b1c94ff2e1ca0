// ReadMarks: the record of the descriptors that came with one batch of reads, which Endpoint hands to
// JavaScript as the `marks` Int32Array of onRead. This class is the only native code that knows its layout,
// and src/binding/read-marks.ts the only TypeScript. For each read that carried control data, one record:
//
//   [offset, length, count, truncated, fd x count]
//
// offset and length locate that read's bytes in the batch's data. truncated is 1 when none of the read's
// descriptors may reach JavaScript (the kernel reported MSG_CTRUNC, or close-on-exec could not be set):
// those that did arrive were closed here already, and count is 0. The kernel ends a read after the first
// message that carries descriptors, so they were sent with a byte inside that read's range, and nothing
// after it. Man pages: recvmsg(2), cmsg(3) for where the descriptors come from.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <vector>

namespace portunus {

class ReadMarks {
 public:
  // Starts the record of a read of `length` bytes at `offset` in the batch's data.
  void BeginRead(size_t offset, size_t length) {
    current_ = values_.size();
    values_.resize(current_ + kFds);  // count and truncated start at 0
    values_[current_ + kOffset] = static_cast<int32_t>(offset);
    values_[current_ + kLength] = static_cast<int32_t>(length);
  }

  // Adds a descriptor that came with the current read. The batch owns it until JavaScript takes the batch.
  void AddFd(int fd) {
    values_.push_back(fd);
    values_[current_ + kCount]++;
  }

  // Closes the descriptors of the current read and marks it truncated: none of them reaches JavaScript.
  void TruncateRead() {
    for (size_t i = current_ + kFds; i < values_.size(); i++) close(values_[i]);
    values_.resize(current_ + kFds);
    values_[current_ + kCount] = 0;
    values_[current_ + kTruncated] = 1;
  }

  // Closes every descriptor recorded, for a batch that reached no JavaScript.
  void CloseAll() const {
    for (size_t record = 0; record + kFds <= values_.size();) {
      size_t end = record + kFds + static_cast<size_t>(values_[record + kCount]);
      for (size_t i = record + kFds; i < end && i < values_.size(); i++) close(values_[i]);
      record = end;
    }
  }

  bool empty() const {
    return values_.empty();
  }
  size_t size() const {
    return values_.size();
  }
  const int32_t* data() const {
    return values_.data();
  }

 private:
  // Positions within a record; the descriptors start at kFds.
  static constexpr size_t kOffset = 0;
  static constexpr size_t kLength = 1;
  static constexpr size_t kCount = 2;
  static constexpr size_t kTruncated = 3;
  static constexpr size_t kFds = 4;

  std::vector<int32_t> values_;
  // Where the record of the read being added starts.
  size_t current_ = 0;
};

}  // namespace portunus
