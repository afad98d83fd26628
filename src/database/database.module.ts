import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import mongoose from 'mongoose';
import { AppConfig } from '../config/app-config';

// Query selectors built from request data can never smuggle operators ({"$ne": null}) into a query.
mongoose.set('sanitizeFilter', true);
mongoose.set('strictQuery', true);

@Module({
  imports: [
    MongooseModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        if (!config.mongodbUri) throw new Error('MONGODB_URI was not resolved before the module was built');
        return {
          uri: config.mongodbUri,
          serverSelectionTimeoutMS: 5000,
          socketTimeoutMS: config.mongodbSocketTimeoutMs,
          // Index builds are run explicitly at startup (see ensureIndexes in each repository).
          autoIndex: true,
          autoCreate: true,
        };
      },
    }),
  ],
})
export class DatabaseModule {}
