/**
 * The marker object of an S3 home's own prefix ("tenants/alice/"), which the backend keeps so
 * an empty home still lists; the backend never removes it (the home cannot be removed through
 * it), so a home removal deletes it here once the home is empty.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { S3Config } from '../dataprovider/account-schema.js';
import { createS3Client } from './s3-client.js';
import { s3HomeSettings } from './s3-settings.js';

export async function deleteS3HomeMarker(config: S3Config, secretKey: string): Promise<void> {
  const settings = s3HomeSettings(config, secretKey);
  const client = createS3Client(settings);
  try {
    await client.send(
      new DeleteObjectCommand({ Bucket: settings.bucket, Key: settings.keyPrefix }),
    );
  } finally {
    client.destroy();
  }
}
