//! An S3 multipart upload that an export streams into: parts go up one at a time while the
//! next one fills, and an upload that does not complete is aborted, so no partial object
//! ever appears.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::task::JoinSet;

/// The S3 calls an upload makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Create,
    UploadPart,
    Complete,
    Abort,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Create => "CreateMultipartUpload",
            Call::UploadPart => "UploadPart",
            Call::Complete => "CompleteMultipartUpload",
            Call::Abort => "AbortMultipartUpload",
        }
    }

    /// What was going on, in words for a job's error summary.
    pub fn stage(self) -> &'static str {
        match self {
            Call::Create => "starting the upload",
            Call::UploadPart => "uploading a part",
            Call::Complete => "completing the upload",
            Call::Abort => "aborting the upload",
        }
    }
}

/// An S3 call that failed. The text is for logs; clients get the export's own summary.
#[derive(Debug, thiserror::Error)]
#[error("s3 {}: {detail}", .call.name())]
pub struct UploadError {
    pub call: Call,
    detail: String,
    /// S3 was slow, unreachable or throttling (`store::is_unavailable`).
    pub unavailable: bool,
}

impl UploadError {
    fn new<E>(call: Call, err: aws_sdk_s3::error::SdkError<E>) -> Self
    where
        E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
    {
        Self {
            call,
            detail: crate::telemetry::error_chain(&err),
            unavailable: crate::store::is_unavailable(&err),
        }
    }
}

/// What the object is served as.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub key: String,
    pub content_type: &'static str,
    pub content_disposition: String,
}

/// A started multipart upload. Cheap to clone: the client is reference-counted.
#[derive(Debug, Clone)]
pub struct Multipart {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    upload_id: String,
}

impl Multipart {
    pub async fn start(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        meta: &ObjectMeta,
    ) -> Result<Self, UploadError> {
        let out = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(&meta.key)
            .content_type(meta.content_type)
            .content_disposition(&meta.content_disposition)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| UploadError::new(Call::Create, e))?;
        let upload_id = out.upload_id.ok_or_else(|| UploadError {
            call: Call::Create,
            detail: "no upload id in the response".into(),
            unavailable: false,
        })?;
        Ok(Self {
            client: client.clone(),
            bucket: bucket.to_owned(),
            key: meta.key.clone(),
            upload_id,
        })
    }

    async fn upload_part(&self, number: i32, body: Bytes) -> Result<CompletedPart, UploadError> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| UploadError::new(Call::UploadPart, e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag)
            .set_checksum_crc32(out.checksum_crc32)
            .build())
    }

    async fn complete(&self, parts: Vec<CompletedPart>) -> Result<(), UploadError> {
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| UploadError::new(Call::Complete, e))?;
        Ok(())
    }

    /// Discards the upload and every part it received.
    pub async fn abort(&self) -> Result<(), UploadError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await
            .map_err(|e| UploadError::new(Call::Abort, e))?;
        Ok(())
    }
}

/// Feeds parts to a multipart upload with at most one in flight, so the next part is
/// encoded while the last one travels, and memory holds at most two parts.
pub struct PartWriter {
    upload: Multipart,
    // A set of one, for its abort-on-drop: an abandoned writer leaves no upload running.
    in_flight: JoinSet<Result<CompletedPart, UploadError>>,
    done: Vec<CompletedPart>,
    bytes: u64,
}

impl PartWriter {
    pub fn new(upload: Multipart) -> Self {
        Self {
            upload,
            in_flight: JoinSet::new(),
            done: Vec::new(),
            bytes: 0,
        }
    }

    /// Starts uploading `part` once the previous part is up.
    pub async fn send(&mut self, part: Bytes) -> Result<(), UploadError> {
        self.settle().await?;
        // Part numbers start at 1.
        let number = self.done.len() as i32 + 1;
        self.bytes += part.len() as u64;
        let upload = self.upload.clone();
        self.in_flight
            .spawn(async move { upload.upload_part(number, part).await });
        Ok(())
    }

    /// Sends the last part (unless the file ended exactly on a part) and completes the
    /// upload; returns the object's size.
    pub async fn finish(mut self, last: Bytes) -> Result<u64, UploadError> {
        if !last.is_empty() || self.bytes == 0 {
            self.send(last).await?;
        }
        self.settle().await?;
        self.upload.complete(std::mem::take(&mut self.done)).await?;
        Ok(self.bytes)
    }

    async fn settle(&mut self) -> Result<(), UploadError> {
        while let Some(joined) = self.in_flight.join_next().await {
            let part = joined.map_err(|e| UploadError {
                call: Call::UploadPart,
                detail: format!("upload task failed: {e}"),
                unavailable: false,
            })??;
            self.done.push(part);
        }
        Ok(())
    }
}
