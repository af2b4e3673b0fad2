/* The snapshot file: a header, the store's snapshot, padding and etcd's sha256 trailer. */
#include "store/snapfile.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/codec.h"

static const uint8_t snapfile_magic[8] = { 'M', 'S', 'S', 'N', 'A', 'P', 'F', '\n' };

static void le32_write(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t le32_read(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int sha256(const uint8_t *p, size_t len, uint8_t out[MS_SNAPFILE_SHA])
{
	unsigned int n = 0;

	if (!EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) || n != MS_SNAPFILE_SHA)
		return -ENOMEM;
	return 0;
}

int ms_snapfile_encode(const struct ms_snapfile_hdr *h, const uint8_t *payload, size_t len,
		       struct ms_buf *out)
{
	uint8_t hdr[MS_SNAPFILE_HDR];
	size_t at = out->len, body, pad;
	int err;

	memcpy(hdr, snapfile_magic, sizeof(snapfile_magic));
	le32_write(hdr + 8, MS_SNAPFILE_VERSION);
	le32_write(hdr + 12, MS_SNAPFILE_HDR);
	ms_le64_write(hdr + 16, (uint64_t)h->revision);
	ms_le64_write(hdr + 24, (uint64_t)h->compact_revision);
	ms_le64_write(hdr + 32, h->applied_index);
	ms_le64_write(hdr + 40, len);
	body = MS_SNAPFILE_HDR + len;
	pad = (MS_SNAPFILE_ALIGN - body % MS_SNAPFILE_ALIGN) % MS_SNAPFILE_ALIGN;
	err = ms_buf_append(out, hdr, sizeof(hdr));
	if (!err && len)
		err = ms_buf_append(out, payload, len);
	if (!err && pad)
		err = ms_buf_append(out, NULL, pad);
	if (!err)
		err = ms_buf_append(out, NULL, MS_SNAPFILE_SHA);
	if (err) {
		out->len = at;
		return err;
	}
	memset(out->data + at + body, 0, pad);
	err = sha256(out->data + at, body + pad, out->data + at + body + pad);
	if (err)
		out->len = at;
	return err;
}

/* The reason of a refusal, for one line. */
static int refuse(const char **why, const char *what, int err)
{
	*why = what;
	return err;
}

int ms_snapfile_decode(const uint8_t *file, size_t len, struct ms_snapfile_hdr *h,
		       const uint8_t **payload, size_t *plen, const char **why)
{
	uint8_t sum[MS_SNAPFILE_SHA];
	size_t body, end;
	uint64_t n;

	*why = "";
	if (len < MS_SNAPFILE_ALIGN + MS_SNAPFILE_SHA ||
	    len % MS_SNAPFILE_ALIGN != MS_SNAPFILE_SHA)
		return refuse(why, "not a snapshot file of whole 512-byte blocks and its sha256 "
			      "(truncated?)", -EINVAL);
	body = len - MS_SNAPFILE_SHA;
	if (sha256(file, body, sum))
		return refuse(why, "cannot compute sha256", -EINVAL);
	if (memcmp(sum, file + body, MS_SNAPFILE_SHA) != 0)
		return refuse(why, "sha256 checksum mismatch", -EBADMSG);
	if (memcmp(file, snapfile_magic, sizeof(snapfile_magic)) != 0)
		return refuse(why, "not a metastore snapshot (bad magic)", -EINVAL);
	if (le32_read(file + 8) != MS_SNAPFILE_VERSION)
		return refuse(why, "unsupported snapshot format version", -EPROTONOSUPPORT);
	if (le32_read(file + 12) != MS_SNAPFILE_HDR)
		return refuse(why, "bad header length", -EINVAL);
	n = ms_le64_read(file + 40);
	if (n > body - MS_SNAPFILE_HDR)
		return refuse(why, "payload length past the end of the file", -EINVAL);
	end = MS_SNAPFILE_HDR + n;
	/* exactly the padding the writer adds, all zero: nothing hides behind the payload */
	if (body - end >= MS_SNAPFILE_ALIGN)
		return refuse(why, "payload length short of the file", -EINVAL);
	for (size_t i = end; i < body; i++)
		if (file[i])
			return refuse(why, "padding is not zero", -EINVAL);
	h->revision = (int64_t)ms_le64_read(file + 16);
	h->compact_revision = (int64_t)ms_le64_read(file + 24);
	h->applied_index = ms_le64_read(file + 32);
	*payload = file + MS_SNAPFILE_HDR;
	*plen = (size_t)n;
	return 0;
}
