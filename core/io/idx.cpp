// IDX reader over zlib's gz stream (handles plain and gzip files alike).
#include "core/io/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/common.h"

namespace ebm::io {

namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads exactly n bytes or throws naming the file and how far it got.
void read_exact(gzFile f, void* dst, size_t n, const std::string& path, const char* what) {
  auto* p = static_cast<uint8_t*>(dst);
  size_t got = 0;
  while (got < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
    int r = gzread(f, p + got, chunk);
    if (r < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      EBM_THROW(IOError, "idx: ", path, ": reading the ", what, " failed: ", msg);
    }
    if (r == 0)
      EBM_THROW(IOError, "idx: ", path, ": file is truncated: the ", what, " needs ", n,
                " bytes, only ", got, " are there");
    got += static_cast<size_t>(r);
  }
}

uint32_t big_endian_u32(const uint8_t* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

}  // namespace

IdxBytes read_idx_u8(const std::string& path, int expected_ndim) {
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) EBM_THROW(IOError, "idx: cannot open '", path, "': ", std::strerror(errno));
  uint8_t magic[4];
  read_exact(f.get(), magic, 4, path, "magic number");
  if (magic[0] != 0 || magic[1] != 0)
    EBM_THROW(IOError, "idx: ", path, ": wrong magic number (first bytes ", int(magic[0]), " ",
              int(magic[1]), ", expected 0 0): not an IDX file");
  if (magic[2] != 0x08)
    EBM_THROW(IOError, "idx: ", path, ": element type 0x", std::hex, int(magic[2]),
              " is not supported (only unsigned bytes, 0x08)");
  int ndim = magic[3];
  if (ndim < 1 || ndim > 4) EBM_THROW(IOError, "idx: ", path, ": rank ", ndim, " out of range 1..4");
  if (expected_ndim >= 0 && ndim != expected_ndim)
    EBM_THROW(IOError, "idx: ", path, ": expected a rank-", expected_ndim, " file, found rank ",
              ndim);
  IdxBytes out;
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    uint8_t b[4];
    read_exact(f.get(), b, 4, path, "dimension sizes");
    int64_t size = big_endian_u32(b);
    if (size <= 0 || size > (int64_t(1) << 31))
      EBM_THROW(IOError, "idx: ", path, ": dimension ", d, " has size ", size);
    total *= size;
    if (total > (int64_t(1) << 34)) EBM_THROW(IOError, "idx: ", path, ": implausibly large data");
    out.dims.push_back(size);
  }
  out.data.resize(static_cast<size_t>(total));
  read_exact(f.get(), out.data.data(), out.data.size(), path, "data");
  uint8_t extra;
  if (gzread(f.get(), &extra, 1) > 0)
    EBM_THROW(IOError, "idx: ", path, ": trailing bytes after the ", total, " data bytes");
  return out;
}

}  // namespace ebm::io
